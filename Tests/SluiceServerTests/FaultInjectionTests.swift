import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

/// Real faults, injected: the data directory on a small tmpfs filled mid-run. Needs root for `mount`
/// (CI runs as root); without it the test fails, never skips.
@Suite struct FaultInjectionTests {
    /// A new tmpfs of `megabytes`, mounted at a new folder.
    static func tmpfs(megabytes: Int) async throws -> String {
        let path = TemporaryDirectory.make()
        let mount = try ChildProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path], outputPath: path + ".mount.log")
        let status = await mount.wait(seconds: 30)
        guard status == 0 else { throw TestFailure("mounting a tmpfs needs root (CI runs as root): mount exited \(status): \(mount.output)") }
        return path
    }

    static func unmount(_ path: String) async {
        if let umount = try? ChildProcess(["/bin/umount", "-l", path]) { _ = await umount.wait(seconds: 30) }
    }

    /// Fills the file system holding `folder` until it refuses more; returns the filler's path.
    static func fill(_ folder: String) -> String {
        let path = folder + "/filler"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: path) else { return path }
        let block = Data(count: 64 << 10)
        while (try? handle.write(contentsOf: block)) != nil {}
        let small = Data(count: 512)
        while (try? handle.write(contentsOf: small)) != nil {}
        try? handle.close()
        return path
    }

    @Test func aFullDiskStrandsNoJobAndNothingNeedsARestart() async throws {
        let disk = try await Self.tmpfs(megabytes: 24)
        defer { Task { await Self.unmount(disk) } }
        // Room for all four jobs (and a request answered before the disk is full) to run at once, so that
        // every one is running when the disk fills, not waiting for another's end.
        try await TestNode.with(dataDirectory: disk + "/data", configure: { $0.queue.maxRunningPerUser = 8 }) { node in
            let slow: [String: Any] = ["tokens": 300, "tokens_per_second": 60]
            var ids: [String] = []
            for index in 0..<4 { ids.append(try await node.client.submit(chatBody("question \(index) for a full disk", mock: slow))) }
            for id in ids { _ = try await node.client.waitForJob(id, states: ["running", "succeeded"], timeout: 60) }
            // Every job's stream is followed while the disk fills.
            let client = node.client
            let watchers = ids.map { id in Task { try await client.events("/v1/jobs/\(id)/stream", timeout: .seconds(120)) } }
            let filler = Self.fill(disk)

            // While the disk is full: new requests are refused with a retry hint, /readyz says so, and the
            // subscribers of a job whose answer cannot be saved are told to come back.
            var refused: HTTPTestClient.Reply?
            var answered = 0
            for attempt in 0..<50 {
                let reply = try await node.client.post("/v1/chat/completions", json: chatBody("a new question \(attempt) while full", mock: ["tokens": 200]))
                if reply.status != 200 { refused = reply; break }
                answered += 1
            }
            #expect(refused?.status == 507 && refused?.errorCode == "storage_full", "\(refused?.status ?? 0) \(refused?.text ?? "")")
            #expect(refused?.headers["retry-after"] == "1")
            let ready = try await node.client.get("/readyz")
            #expect(ready.status == 503 && ready.json["store"] as? String == "full", "\(ready.text)")
            var told: [(id: String, last: Int)] = []
            for (id, watcher) in zip(ids, watchers) {
                let stream = try await watcher.value
                guard let last = stream.events.last, last.name == "error" else { continue }
                #expect(last.json["code"] as? String == "store_unavailable", "\(last.data)")
                #expect(last.id == nil, "a notice is not part of the job's stream")
                told.append((id, stream.ids.last ?? 0))
            }
            #expect(!told.isEmpty, "no job's ending or chunks failed to save: the disk was not full")

            // Space comes back: every accepted job ends, with its whole answer, without a restart.
            try FileManager.default.removeItem(atPath: filler)
            let freed = Date()
            for id in ids {
                let job = try await node.client.waitForJob(id, states: ["succeeded", "failed", "cancelled", "expired"], timeout: 60)
                #expect(job["state"] as? String == "succeeded", "\(id): \(job)")
                #expect(((job["result"] as? [String: Any])?["text"] as? String)?.split(separator: " ").count == 300)
            }
            print("full disk: \(told.count) of \(ids.count) jobs' subscribers were told to come back; every job ended \(Int(Date().timeIntervalSince(freed) * 1000)) ms after space came back")
            // A client told to come back resumes where it was and gets the end of the answer.
            for (id, last) in told {
                let resumed = try await node.client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": String(last)])
                #expect(resumed.events.last?.name == "done", "\(id): \(resumed.events.suffix(2))")
            }
            // A refused request was never a job, though a free worker may have asked the provider while its
            // insert was failing: only the accepted ones are in the history.
            let history = try await node.client.get("/v1/jobs?limit=100")
            #expect((history.json["data"] as? [Any])?.count == ids.count + answered, "\(history.text.prefix(300))")
            let back = try await node.client.get("/readyz")
            #expect(back.status == 200, "\(back.text)")
            #expect(try await node.client.get("/metrics").text.contains("sluice_store_write_failures_total"))
        }
    }
}
