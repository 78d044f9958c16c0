import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting

/// A chat request body with a scripted mock answer.
func chatBody(_ content: String, model: String = "default", stream: Bool? = nil, mock: [String: Any] = ["tokens": 6], extra: [String: Any] = [:]) -> [String: Any] {
    var body: [String: Any] = ["model": model, "messages": [["role": "user", "content": content]], "mock": mock]
    if let stream { body["stream"] = stream }
    return body.merging(extra) { $1 }
}

extension SSEStream {
    /// The text of the delta events after the last reset.
    var answer: String {
        var text = ""
        for event in events {
            if event.name == "delta" { text += event.json["text"] as? String ?? "" }
            if event.name == "reset" { text = "" }
        }
        return text
    }

    /// The sequence numbers of the events.
    var ids: [Int] { events.compactMap(\.seq) }
}

extension HTTPTestClient {
    /// Submits a job and returns its id.
    func submit(_ body: [String: Any], headers: [String: String] = [:]) async throws -> String {
        let reply = try await post("/v1/jobs", json: body, headers: headers)
        guard reply.status == 202, let id = reply.json["id"] as? String else {
            throw TestFailure("job not accepted: \(reply.status) \(reply.text)")
        }
        return id
    }

    /// Polls a job until it reaches one of `states`.
    func waitForJob(_ id: String, states: Set<String>, headers: [String: String] = [:], timeout: Double = 20) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let reply = try await get("/v1/jobs/\(id)", headers: headers)
            if let state = reply.json["state"] as? String, states.contains(state) { return reply.json }
            last = "\(reply.status) \(reply.text.prefix(400))"
            try await Task.sleep(for: .milliseconds(20))
        }
        // What the node said last tells a stranded job from a node that could not answer.
        throw TestFailure("job \(id) did not reach \(states); last answer: \(last)")
    }
}

/// Waits for something the test can observe, instead of for a time it hopes is long enough: checks
/// `condition` every `interval` until it holds, and fails with `what` when it still does not after `seconds`.
/// - Parameters:
///   - what: what the test waits for, as the failure says it ("node B relays the stream").
///   - seconds: how long before giving up; generous, for a busy machine.
///   - interval: the pause between checks.
///   - condition: whether it has happened.
func eventually(
    _ what: String, seconds: Double = 20, every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw TestFailure("within \(seconds) s, this never happened: \(what)")
}
