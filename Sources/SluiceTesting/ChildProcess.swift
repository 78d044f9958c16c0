public import Foundation
import Synchronization

/// A process the tests start, spawned directly (`posix_spawn`) and reaped with `waitpid`.
///
/// Not Foundation's `Process`: on Linux its `waitUntilExit` sometimes never returns, even after SIGKILL
/// (seen with gdb: two tests blocked in it held both of Swift concurrency's threads on 2 cores, and the
/// whole test run stalled), and it waits until every descendant lets go of its pipes (the server
/// `pg_ctl` starts never does). Output goes to a file, so nothing waits on a pipe either.
public final class ChildProcess: Sendable {
    /// The process id.
    public let pid: pid_t
    /// The file that receives standard output and standard error, if any.
    public let outputPath: String?
    private let ended = Mutex<Int32?>(nil)

    /// Starts `command` (an absolute path, then the arguments).
    /// - Parameters:
    ///   - command: the executable's path and its arguments.
    ///   - environment: the whole environment; this process's when nil.
    ///   - outputPath: where standard output and error go; discarded when nil.
    public init(_ command: [String], environment: [String: String]? = nil, outputPath: String? = nil) throws(TestFailure) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of this process's: a server the child leaves running (pg_ctl's) would otherwise keep
        // the tests' listening sockets, and their ports, open after the tests close them.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in variables { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, variables)
        guard spawned == 0 else { throw TestFailure("could not run \(command[0]): error \(spawned)") }
        self.pid = pid
        self.outputPath = outputPath
    }

    /// This process's environment with `extra` on top.
    public static func environment(_ extra: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(extra) { $1 }
    }

    /// The exit status once it has ended (128 + N when signal N ended it); nil while it runs.
    public var exitStatus: Int32? { reap(blocking: false) }

    /// Whether it still runs.
    public var isRunning: Bool { exitStatus == nil }

    /// Sends a signal (nothing once it has ended).
    public func signal(_ number: Int32) {
        if isRunning { _ = Foundation.kill(pid, number) }
    }

    /// Waits for the end without holding a thread; returns the exit status.
    public func wait() async -> Int32 {
        while true {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the end, up to `seconds`; then SIGKILL. Returns the exit status.
    public func wait(seconds: Double) async -> Int32 {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill()
        return exitStatus ?? -1
    }

    /// `kill -9`, then reaps it (a killed process ends at once, so this blocks only briefly).
    public func kill() {
        signal(SIGKILL)
        _ = waitBlocking()
    }

    /// Blocks the calling thread until the end: only on a thread of its own (`Blocking.run`), or right
    /// after SIGKILL.
    public func waitBlocking() -> Int32 {
        reap(blocking: true) ?? -1
    }

    /// What it wrote so far.
    public var output: String {
        outputPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
    }

    private func reap(blocking: Bool) -> Int32? {
        ended.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result == -1 && errno == EINTR
            // No such child (already reaped by someone else): it has ended, with a status nobody can
            // know; waiting on would wait forever.
            if result == -1 && errno == ECHILD {
                ended = -1
                return ended
            }
            guard result == pid else { return nil }
            let signal = status & 0x7f
            ended = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return ended
        }
    }

    deinit { kill() }
}
