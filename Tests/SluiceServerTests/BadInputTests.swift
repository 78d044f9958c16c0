import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct BadInputTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var body: Data
        var contentType: String = "application/json"
        var status: Int
        var code: String
        var description: String { name }
    }

    static func json(_ object: [String: Any]) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    static let cases: [Case] = [
        Case(name: "malformed JSON", body: Data("{\"model\": \"default\", ".utf8), status: 400, code: "invalid_json"),
        Case(name: "not an object", body: Data("[1, 2]".utf8), status: 400, code: "invalid_json"),
        Case(name: "wrong content type", body: json(chatBody("hi")), contentType: "text/plain", status: 415, code: "unsupported_media_type"),
        Case(name: "invalid UTF-8", body: Data([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), status: 400, code: "invalid_encoding"),
        Case(name: "body over the limit", body: json(chatBody(String(repeating: "a", count: 70_000))), status: 413, code: "request_too_large"),
        Case(name: "missing model", body: json(["messages": [["role": "user", "content": "hi"]]]), status: 400, code: "missing_field"),
        Case(name: "missing messages", body: json(["model": "default"]), status: 400, code: "missing_field"),
        Case(name: "empty messages", body: json(["model": "default", "messages": []]), status: 400, code: "invalid_messages"),
        Case(name: "too many messages", body: json(["model": "default", "messages": Array(repeating: ["role": "user", "content": "x"], count: 9)]), status: 400, code: "invalid_messages"),
        Case(name: "unknown role", body: json(["model": "default", "messages": [["role": "wizard", "content": "x"]]]), status: 400, code: "invalid_messages"),
        Case(name: "max_tokens zero", body: json(chatBody("hi", extra: ["max_tokens": 0])), status: 400, code: "invalid_max_tokens"),
        Case(name: "max_tokens too large", body: json(chatBody("hi", extra: ["max_tokens": 5000])), status: 400, code: "invalid_max_tokens"),
        Case(name: "max_tokens of the wrong type", body: json(chatBody("hi", extra: ["max_tokens": "many"])), status: 400, code: "invalid_parameter"),
        Case(name: "unknown model", body: json(chatBody("hi", model: "gpt-9")), status: 404, code: "model_not_found"),
        Case(name: "top_p above 1", body: json(chatBody("hi", extra: ["top_p": 7])), status: 400, code: "invalid_parameter"),
        Case(name: "temperature above 2", body: json(chatBody("hi", extra: ["temperature": 2.5])), status: 400, code: "invalid_parameter"),
        Case(name: "a penalty out of range", body: json(chatBody("hi", extra: ["frequency_penalty": -3])), status: 400, code: "invalid_parameter"),
        Case(name: "n of zero", body: json(chatBody("hi", extra: ["n": 0])), status: 400, code: "invalid_parameter"),
        Case(name: "n of a thousand", body: json(chatBody("hi", extra: ["n": 1000])), status: 400, code: "invalid_parameter"),
        Case(name: "top_logprobs of 99", body: json(chatBody("hi", extra: ["logprobs": true, "top_logprobs": 99])), status: 400, code: "invalid_parameter"),
        Case(name: "a seed with a fraction", body: json(chatBody("hi", extra: ["seed": 1.5])), status: 400, code: "invalid_parameter"),
        Case(name: "five stop sequences", body: json(chatBody("hi", extra: ["stop": ["a", "b", "c", "d", "e"]])), status: 400, code: "invalid_parameter"),
        Case(name: "tools that are not objects", body: json(chatBody("hi", extra: ["tools": ["search"]])), status: 400, code: "invalid_parameter"),
        Case(name: "a response format without a type", body: json(chatBody("hi", extra: ["response_format": ["json": true]])), status: 400, code: "invalid_parameter"),
        Case(name: "a logit bias past 100", body: json(chatBody("hi", extra: ["logit_bias": ["42": 500]])), status: 400, code: "invalid_parameter"),
        Case(name: "a user name with a NUL byte", body: json(chatBody("hi", extra: ["user": "stu\u{0}dent"])), status: 400, code: "invalid_parameter"),
        Case(name: "a content part without a type", body: json(["model": "default", "messages": [["role": "user", "content": [["text": "x"]]]]]), status: 400, code: "invalid_parameter"),
    ]

    @Test(arguments: cases)
    func badInputGetsAPreciseErrorAndChangesNothing(_ bad: Case) async throws {
        try await TestNode.with(configure: {
            $0.server.maxBodyBytes = 64 * 1024
            $0.limits.maxMessages = 8
            $0.limits.maxTokens = 4096
        }) { node in
            for path in ["/v1/chat/completions", "/v1/jobs"] {
                let reply = try await node.client.send(.POST, path, body: bad.body, headers: ["Content-Type": bad.contentType])
                #expect(reply.status == bad.status, "\(bad.name) on \(path): \(reply.text)")
                #expect(reply.errorCode == bad.code, "\(bad.name) on \(path): \(reply.text)")
                let error = reply.json["error"] as? [String: Any]
                #expect((error?["message"] as? String)?.isEmpty == false)
                #expect(error?["type"] is String)
                #expect(reply.headers["x-sluice-job-id"] == nil)
            }
            let ready = try await node.client.get("/readyz").json
            #expect(ready["queued"] as? Int == 0 && ready["running"] as? Int == 0)
            #expect(node.node.mock.totalCalls == 0)
        }
    }

    @Test func unknownJobsAndPathsAre404InOpenAIShape() async throws {
        try await TestNode.with { node in
            for reply in [
                try await node.client.get("/v1/jobs/job_doesnotexist"),
                try await node.client.delete("/v1/jobs/job_doesnotexist"),
            ] {
                #expect(reply.status == 404)
                #expect(reply.errorCode == "job_not_found")
            }
            // A stream of a job that is not stored (swept after it ended, or never was) has nothing to say:
            // 204, so that an EventSource stops reconnecting.
            #expect(try await node.client.get("/v1/jobs/job_doesnotexist/stream").status == 204)
            let path = try await node.client.get("/v1/nothing-here")
            #expect(path.status == 404)
            #expect(path.errorCode == "not_found")
        }
    }

    @Test func errorsAreLocalizedByAcceptLanguage() async throws {
        try await TestNode.with { node in
            let english = try await node.client.post("/v1/chat/completions", json: chatBody("hi", model: "nope"))
            let mongolian = try await node.client.post("/v1/chat/completions", json: chatBody("hi", model: "nope"), headers: ["Accept-Language": "mn-MN, en;q=0.5"])
            let en = (english.json["error"] as? [String: Any])?["message"] as? String ?? ""
            let mn = (mongolian.json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(en.contains("does not exist"))
            #expect(mn.contains("олдсонгүй"))
            #expect(english.errorCode == mongolian.errorCode)
        }
    }
}
