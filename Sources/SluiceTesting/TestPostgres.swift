import Foundation
import Synchronization

/// A real PostgreSQL for tests. Unless `SLUICE_TEST_DATABASE_URL` names a server, the first use starts a
/// throwaway cluster from the PostgreSQL binaries on this machine (`initdb` and `pg_ctl` in a temporary
/// folder, on a free loopback port, as the `postgres` user when the tests run as root), and stops it
/// when the test process exits. Each test gets a database of its own. Without PostgreSQL, tests that
/// ask for it fail with a message that says what to install: they are never skipped.
public enum TestPostgres {
    struct Cluster: Sendable {
        /// `postgres://user@127.0.0.1:port` (no database).
        var server: String
        /// The folder of the PostgreSQL binaries, when this process started the cluster.
        var binaries: String?
        /// The cluster's folder, when this process started it.
        var directory: String?
    }

    static let cluster = Mutex<Result<Cluster, TestFailure>?>(nil)
    /// The servers this process started, stopped when it exits (whatever the tests did).
    static let running = Mutex<[Server]>([])
    static let stopsAtExit: Void = {
        atexit {
            for server in TestPostgres.running.withLock({ $0 }) {
                _ = try? TestPostgres.run(server.pgctl, ["-D", server.data, "-m", "immediate", "-w", "stop"], asPostgres: server.asPostgres)
                try? FileManager.default.removeItem(atPath: server.directory)
            }
        }
    }()

    /// A new, empty database on the test server; returns its URL.
    public static func makeDatabase() async throws -> String {
        try await offload { try makeDatabaseNow() }
    }

    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Blocking.run(work)
    }

    static func makeDatabaseNow() throws -> String {
        let cluster = try started()
        let name = "sluice_test_\(UUID().uuidString.prefix(8).lowercased())"
        try psql(cluster, "CREATE DATABASE \(name)")
        return cluster.server + "/" + name
    }

    /// The URL of the server without a database, starting it when needed.
    static func started() throws -> Cluster {
        try cluster.withLock { state in
            if state == nil {
                do throws(TestFailure) {
                    state = .success(try start())
                } catch {
                    state = .failure(error)
                }
            }
            return try state!.get()
        }
    }

    static func start() throws(TestFailure) -> Cluster {
        if let url = ProcessInfo.processInfo.environment["SLUICE_TEST_DATABASE_URL"], !url.isEmpty {
            // The server part: scheme, credentials, host and port; tests make their own databases.
            guard var components = URLComponents(string: url) else { throw TestFailure("SLUICE_TEST_DATABASE_URL is not a URL") }
            components.path = ""
            components.query = nil
            return Cluster(server: components.string ?? url, binaries: binaries(), directory: nil)
        }
        let server = try Server.create()
        return Cluster(server: server.url, binaries: server.binaries, directory: server.directory)
    }

    /// A PostgreSQL server of this test process's own, for a test that restarts or stops it (the shared
    /// one serves every other test). Stop it at the end of the test.
    public final class Server: Sendable {
        /// `postgres://sluice@127.0.0.1:port` (no database).
        public let url: String
        let binaries: String
        let directory: String
        let data: String
        let options: String
        let asPostgres: Bool
        var pgctl: String { binaries + "/pg_ctl" }

        init(url: String, binaries: String, directory: String, data: String, options: String, asPostgres: Bool) {
            self.url = url
            self.binaries = binaries
            self.directory = directory
            self.data = data
            self.options = options
            self.asPostgres = asPostgres
        }

        /// A new cluster (`initdb`, `pg_ctl start`) in a temporary folder on a free port.
        /// - Parameter tls: serve TLS too (`ssl=on`) with the test certificate of `Tests/Fixtures` (for
        ///   127.0.0.1 and localhost); plain connections are still accepted.
        public static func start(tls: Bool = false) async throws -> Server {
            try await offload { try create(tls: tls) }
        }

        static func create(tls: Bool = false) throws(TestFailure) -> Server {
            guard let bin = TestPostgres.binaries() else {
                throw TestFailure("""
                    PostgreSQL is needed for this test and was not found: install the server binaries \
                    (Debian: apt-get install postgresql-15) so that initdb and pg_ctl are on PATH or in \
                    /usr/lib/postgresql/*/bin, or set SLUICE_TEST_DATABASE_URL to a server to use.
                    """)
            }
            let asPostgres = getuid() == 0
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pg-\(UUID().uuidString.prefix(8))").path
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                if asPostgres {
                    // initdb refuses to run as root; the cluster belongs to the postgres user.
                    try FileManager.default.setAttributes([.ownerAccountName: "postgres", .groupOwnerAccountName: "postgres"], ofItemAtPath: directory)
                }
            } catch {
                throw TestFailure("could not prepare \(directory) for PostgreSQL: \(error)")
            }
            let data = directory + "/data"
            try run(bin + "/initdb", ["-D", data, "-U", "sluice", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"], asPostgres: asPostgres)
            let port = SluiceProcess.freePort()
            // No fsync (the tests crash PostgreSQL, never the machine: what reached the kernel survives), but
            // commits written before they are acknowledged, as in production: with `synchronous_commit=off`
            // an immediate stop loses the last acknowledged transactions, and a crash test its jobs.
            var options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=on -c max_connections=300"
            if tls { options += try tlsOptions(in: directory, asPostgres: asPostgres) }
            let server = Server(
                url: "postgres://sluice@127.0.0.1:\(port)", binaries: bin, directory: directory, data: data, options: options, asPostgres: asPostgres)
            try server.control("start")
            TestPostgres.stopsAtExit
            TestPostgres.running.withLock { $0.append(server) }
            return server
        }

        /// The server's options for TLS: the test certificate and key, copied into its folder, where
        /// PostgreSQL accepts them (the key owned by the server's user, readable by it alone).
        static func tlsOptions(in directory: String, asPostgres: Bool) throws(TestFailure) -> String {
            let certificate = directory + "/server.crt", key = directory + "/server.key"
            do {
                try FileManager.default.copyItem(atPath: FakeUpstream.certificateFile, toPath: certificate)
                try FileManager.default.copyItem(atPath: FakeUpstream.keyFile, toPath: key)
                for file in [certificate, key] {
                    var attributes: [FileAttributeKey: Any] = [.posixPermissions: 0o600]
                    if asPostgres {
                        attributes[.ownerAccountName] = "postgres"
                        attributes[.groupOwnerAccountName] = "postgres"
                    }
                    try FileManager.default.setAttributes(attributes, ofItemAtPath: file)
                }
            } catch {
                throw TestFailure("could not give PostgreSQL the test certificate in \(directory): \(error)")
            }
            return " -c ssl=on -c ssl_cert_file=\(certificate) -c ssl_key_file=\(key)"
        }

        /// Runs SQL on one of its databases (a URL from `makeDatabase`) over a plain connection; returns
        /// the rows, one string each (columns joined by `|`).
        public func query(_ url: String, _ sql: String) async throws -> [String] {
            let output = try await offload {
                try TestPostgres.run(self.binaries + "/psql", [url + "?sslmode=disable", "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql], asPostgres: false)
            }
            return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        }

        /// A new, empty database on it; returns its URL.
        public func makeDatabase() async throws -> String {
            let name = "sluice_test_\(UUID().uuidString.prefix(8).lowercased())"
            _ = try await offload { try TestPostgres.run(self.binaries + "/psql", [self.url + "/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"], asPostgres: false) }
            return url + "/" + name
        }

        /// `pg_ctl restart -m fast`: every connection is closed, and the server is back when it returns.
        public func restart() async throws {
            try await offload { try self.control("restart", "-m", "fast") }
        }

        /// `pg_ctl stop -m immediate`: every backend is killed at once, with no checkpoint (as after a crash);
        /// `start()` brings it back through crash recovery.
        public func crash() async throws {
            try await offload { try self.control("stop", "-m", "immediate") }
        }

        /// Starts it again after `crash()`.
        public func start() async throws {
            try await offload { try self.control("start") }
        }

        /// Stops it for good and deletes its folder.
        public func stop() async {
            _ = try? await offload { try self.control("stop", "-m", "immediate") }
            try? FileManager.default.removeItem(atPath: directory)
            TestPostgres.running.withLock { $0.removeAll { $0 === self } }
        }

        func control(_ arguments: String...) throws(TestFailure) {
            try run(pgctl, ["-D", data, "-o", options, "-l", directory + "/server.log", "-w", "-t", "60"] + arguments, asPostgres: asPostgres)
        }
    }

    /// The folder with `pg_ctl`: on PATH, else Debian's newest `/usr/lib/postgresql/N/bin`.
    static func binaries() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/pg_ctl") {
            // A link on PATH leads to the folder that has psql too.
            return URL(fileURLWithPath: "\(folder)/pg_ctl").resolvingSymlinksInPath().deletingLastPathComponent().path
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let folder = "/usr/lib/postgresql/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: folder + "/pg_ctl") { return folder }
        }
        return nil
    }

    static func psql(_ cluster: Cluster, _ sql: String) throws(TestFailure) {
        guard let bin = cluster.binaries ?? binaries() else { throw TestFailure("psql was not found") }
        try run(bin + "/psql", [cluster.server + "/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], asPostgres: false)
    }

    /// Runs SQL on a database; returns the rows, one string each (columns joined by `|`).
    public static func query(_ url: String, _ sql: String) async throws -> [String] {
        try await offload { try queryNow(url, sql) }
    }

    static func queryNow(_ url: String, _ sql: String) throws -> [String] {
        let cluster = try started()
        guard let bin = cluster.binaries ?? binaries() else { throw TestFailure("psql was not found") }
        return try run(bin + "/psql", [url, "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql], asPostgres: false)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Runs a command to its end and returns its output; the output goes to the error when it fails.
    /// Blocks: call it on a thread of its own (`offload`).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], asPostgres: Bool) throws(TestFailure) -> String {
        let command = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pg-output-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = try ChildProcess(command, outputPath: outputPath).waitBlocking()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TestFailure("\((executable as NSString).lastPathComponent) failed (exit \(status)): \(text)")
        }
        return text
    }
}

/// Blocking work for tests (waiting for a command to end) on a thread of its own:
/// on Swift concurrency's few shared threads (two on 2 cores), two such waits at once would stall every
/// other test, and deadlock when the process waits for a node in this very process.
public enum Blocking {
    /// Runs `work` on a new thread and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
