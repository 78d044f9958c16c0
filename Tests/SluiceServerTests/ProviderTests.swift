import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// Real providers against a fake upstream on loopback that misbehaves on command.
@Suite struct ProviderTests {
    static func deployment(
        _ name: String, _ fake: FakeUpstream, kind: Deployment.Kind = .openai, key: String? = nil, _ configure: (inout Deployment) -> Void = { _ in }
    ) -> Deployment {
        var deployment = Deployment(
            name: name, kind: kind, baseURL: kind == .anthropic ? fake.anthropicBaseURL : fake.openAIBaseURL, model: "\(name)-model",
            apiKey: key ?? "sk-test-\(name)")
        // Generous: the whole suite shares 2 cores, and a stall of a few seconds there is not a provider's
        // fault. Tests of timeouts set their own.
        deployment.timeouts.firstToken = 15
        deployment.timeouts.idle = 15
        deployment.timeouts.total = 60
        configure(&deployment)
        return deployment
    }

    static func configure(
        _ configuration: inout SluiceConfiguration, _ deployments: [Deployment], alias: String = "gpt",
        _ change: (inout ModelAlias) -> Void = { _ in }
    ) {
        configuration.deployments = deployments
        var model = ModelAlias(name: alias, deployments: deployments.map(\.name))
        change(&model)
        configuration.aliases = [model]
        configuration.queue.backoffBaseMs = 20
        configuration.queue.backoffMaxMs = 100
    }

    static func ask(_ node: TestNode, _ content: String = "hello", model: String = "gpt", stream: Bool? = nil, headers: [String: String] = [:]) async throws -> HTTPTestClient.Reply {
        try await node.client.post("/v1/chat/completions", json: ["model": model, "messages": [["role": "user", "content": content]], "stream": stream ?? false], headers: headers)
    }

    static func text(_ reply: HTTPTestClient.Reply) -> String {
        (((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String) ?? ""
    }

    @Test func openAICompatibleStreamsWithUsageFromTheFinalChunk() async throws {
        try await FakeUpstream.with { fake in
            try await TestNode.with(configure: { Self.configure(&$0, [Self.deployment("primary", fake)]) }) { node in
                let reply = try await Self.ask(node)
                #expect(reply.status == 200)
                #expect(Self.text(reply) == "w1 w2 w3 w4 w5 w6 w7 w8")
                #expect((reply.json["usage"] as? [String: Int]) == ["prompt_tokens": 11, "completion_tokens": 8, "total_tokens": 19])
                let sent = try #require(fake.received.first)
                #expect(sent.path == "/v1/chat/completions")
                #expect(sent.headers["authorization"] == "Bearer sk-test-primary")
                #expect(sent.json["model"] as? String == "primary-model")
                #expect(sent.json["stream"] as? Bool == true)
                #expect((sent.json["stream_options"] as? [String: Bool])?["include_usage"] == true)
                #expect(((sent.json["messages"] as? [[String: String]])?.first)?["content"] == "hello")
                let models = try await node.client.get("/v1/models").json["data"] as? [[String: Any]]
                #expect(models?.compactMap { $0["id"] as? String } == ["gpt"])
            }
        }
    }

    @Test func nonStreamingDeploymentsAndMissingUsageAreHandled() async throws {
        try await FakeUpstream.with { fake in
            fake.fallback(.answer(tokens: 5, usage: false))
            try await TestNode.with(configure: {
                Self.configure(&$0, [Self.deployment("plain", fake) { $0.streaming = false }, Self.deployment("nousage", fake)]) { $0.strategy = .ordered }
                $0.aliases.append(ModelAlias(name: "streamed", deployments: ["nousage"]))
            }) { node in
                let plain = try await Self.ask(node, stream: true)
                #expect(fake.received.last?.json["stream"] as? Bool == false)
                #expect(plain.text.contains("data: [DONE]"))
                let usage = (try await Self.ask(node)).json["usage"] as? [String: Int]
                #expect(usage?["completion_tokens"] == 5)
                let estimated = try await Self.ask(node, model: "streamed")
                #expect(Self.text(estimated) == "w1 w2 w3 w4 w5")
                let counted = estimated.json["usage"] as? [String: Int]
                #expect((counted?["completion_tokens"] ?? 0) >= 5 && (counted?["prompt_tokens"] ?? 0) >= 1)
            }
        }
    }

    @Test func anthropicMessagesAreMappedWithACachedSystemPrefix() async throws {
        try await FakeUpstream.with { fake in
            try await TestNode.with(configure: {
                Self.configure(&$0, [Self.deployment("claude", fake, kind: .anthropic, key: "sk-ant-test")], alias: "claude")
            }) { node in
                let body: [String: Any] = [
                    "model": "claude", "max_tokens": 300,
                    "messages": [
                        ["role": "system", "content": "You are a physics tutor."],
                        ["role": "user", "content": "What is refraction?"],
                        ["role": "assistant", "content": "Bending of light."],
                        ["role": "user", "content": "Why?"],
                        ["role": "user", "content": "Explain simply."],
                    ],
                ]
                let reply = try await node.client.post("/v1/chat/completions", json: body)
                #expect(reply.status == 200)
                #expect(Self.text(reply) == "w1 w2 w3 w4 w5 w6 w7 w8")
                #expect((reply.json["usage"] as? [String: Int])?["prompt_tokens"] == 11)
                let sent = try #require(fake.received.first)
                #expect(sent.path == "/v1/messages")
                #expect(sent.headers["x-api-key"] == "sk-ant-test")
                #expect(sent.headers["anthropic-version"] == "2023-06-01")
                #expect(sent.json["max_tokens"] as? Int == 300)
                let system = (sent.json["system"] as? [[String: Any]])?.first
                #expect(system?["text"] as? String == "You are a physics tutor.")
                #expect((system?["cache_control"] as? [String: String])?["type"] == "ephemeral")
                let turns = (sent.json["messages"] as? [[String: Any]]) ?? []
                #expect(turns.map { $0["role"] as? String ?? "" } == ["user", "assistant", "user"])
                // Consecutive messages of one role become one turn, each message a text block of its own.
                let blocks = (turns.last?["content"] as? [[String: String]]) ?? []
                #expect(blocks == [["type": "text", "text": "Why?"], ["type": "text", "text": "Explain simply."]])
            }
        }
    }

    @Test func anthropicWithoutStreaming() async throws {
        try await FakeUpstream.with { fake in
            try await TestNode.with(configure: {
                Self.configure(&$0, [Self.deployment("claude", fake, kind: .anthropic) { $0.streaming = false }], alias: "claude")
            }) { node in
                let reply = try await Self.ask(node, model: "claude")
                #expect(Self.text(reply) == "w1 w2 w3 w4 w5 w6 w7 w8")
                #expect(fake.received.first?.json["stream"] as? Bool == false)
            }
        }
    }

    @Test func theBulkheadCapsCallsInFlightWithoutHoldingWorkers() async throws {
        try await FakeUpstream.with { fake in
            // Answers of a second, submitted at once: on a busy machine too, more than two want a slot at a time.
            fake.fallback(.answer(tokens: 10, tokensPerSecond: 10))
            try await TestNode.with(configure: {
                Self.configure(&$0, [Self.deployment("narrow", fake) { $0.maxInFlight = 2 }])
                $0.queue.workers = 8
                $0.queue.maxRunningPerUser = 8
            }) { node in
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for n in 0..<6 { group.addTask { try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "q\(n)"]]]) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                // Jobs waiting for a slot stay queued instead of holding one of the 8 workers (a job
                // whose call has ended may still hold its worker while its answer is committed and cached).
                var sawWaiting = false
                for _ in 0..<20 {
                    let ready = try await node.client.get("/readyz").json
                    #expect((ready["running"] as? Int ?? 0) <= 4)
                    #expect(fake.inFlight <= 2)
                    if (ready["queued"] as? Int ?? 0) > 0 { sawWaiting = true }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(sawWaiting)
                for id in ids { _ = try await node.client.waitForJob(id, states: ["succeeded"]) }
                #expect(fake.maxInFlight == 2)
                #expect(fake.received.count == 6)
            }
        }
    }

    /// A deployment keeps `warmConnections` idle and open once its first call has connected (more while
    /// calls run: that many beyond those in use), so that the next calls (after a quiet hour, or the first of a surge) need no handshake; with none,
    /// only the connection a call used stays open. Either way the node shuts down (AsyncHTTPClient's
    /// pre-warming once kept its clients from shutting down).
    @Test func warmConnectionsAreOpenedAheadOfTheCallsThatWillNeedThem() async throws {
        try await FakeUpstream.with { warm in
            try await FakeUpstream.with { cold in
                try await TestNode.with(configure: {
                    Self.configure(&$0, [Self.deployment("warm", warm) { $0.warmConnections = 3 }, Self.deployment("cold", cold) { $0.warmConnections = 0 }], alias: "warm")
                    $0.aliases.append(ModelAlias(name: "cold", deployments: ["cold"]))
                }) { node in
                    #expect(try await Self.ask(node, model: "warm").status == 200)
                    #expect(try await Self.ask(node, model: "cold").status == 200)
                    var open = (warm: 0, cold: 0)
                    for _ in 0..<100 {
                        open = (try Self.connections(to: warm.port), try Self.connections(to: cold.port))
                        if open.warm >= 3 { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    // 3 idle, or 4 when the warm ones were opened while the call's was still in use.
                    #expect(open.warm >= 3 && open.warm <= 4, "\(open.warm) open: 3 warm ones, and the call's")
                    #expect(open.cold == 1, "the call's connection alone")
                    // Opened, not used: each deployment had one call.
                    #expect(warm.received.count == 1 && cold.received.count == 1)
                }
                // The node has shut down: its connections are closed.
                #expect(try Self.connections(to: warm.port) == 0)
            }
        }
    }

    /// Established TCP connections to 127.0.0.1:`port` from the side that connected (the kernel's table,
    /// `/proc/net/tcp`).
    static func connections(to port: Int) throws -> Int {
        // Read to its end: the kernel writes the table a page per read, and a file's reported size is 0.
        guard let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { throw TestFailure("/proc/net/tcp cannot be read") }
        defer { try? file.close() }
        let table = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        let remote = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2] == remote && fields[3] == "01"
        }.count
    }

    @Test(arguments: [
        FakeUpstream.Behavior.status(500), .status(503), .status(429, retryAfter: 30), .hang, .malformed,
    ])
    func everyRequestSucceedsWhenTheFirstDeploymentFailsEveryCall(_ failure: FakeUpstream.Behavior) async throws {
        try await FakeUpstream.with { bad in
            try await FakeUpstream.with { good in
                bad.fallback(failure)
                try await TestNode.with(configure: {
                    Self.configure(&$0, [
                        Self.deployment("first", bad) { $0.timeouts.firstToken = 0.3; $0.breaker.consecutiveFailures = 3 },
                        Self.deployment("second", good),
                    ])
                }) { node in
                    for n in 0..<8 {
                        let reply = try await Self.ask(node, "question \(n)")
                        #expect(reply.status == 200, "\(failure): \(reply.text)")
                        #expect(Self.text(reply) == "w1 w2 w3 w4 w5 w6 w7 w8")
                    }
                    #expect(good.received.count == 8)
                    // The breaker (or the Retry-After) keeps later requests away from the failing deployment.
                    #expect(bad.received.count <= 3, "\(failure)")
                    let metrics = try await node.client.get("/metrics").text
                    #expect(metrics.contains(#"sluice_provider_calls_total{alias="gpt",deployment="second",outcome="success"} 8"#))
                    if case .status(429, _) = failure {} else {
                        #expect(metrics.contains(#"sluice_breaker_state{alias="gpt",deployment="first"} 2"#), "\(metrics)")
                    }
                }
            }
        }
    }

    @Test func failoverOnConnectErrorsAndItsAddedLatency() async throws {
        try await FakeUpstream.with { good in
            var dead = Self.deployment("dead", good)
            dead.baseURL = "http://127.0.0.1:\(SluiceProcess.freePort())/v1"
            try await TestNode.with(configure: { Self.configure(&$0, [dead, Self.deployment("alive", good)]) }) { node in
                var failover: [Double] = []
                for n in 0..<5 {
                    let started = Date()
                    let reply = try await Self.ask(node, "q\(n)")
                    failover.append(Date().timeIntervalSince(started) * 1000)
                    #expect(reply.status == 200)
                }
                var direct: [Double] = []
                for n in 0..<5 {
                    let started = Date()
                    _ = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "d\(n)"]]])
                    direct.append(Date().timeIntervalSince(started) * 1000)
                }
                print("failover latency (ms), first deployment refusing connections:", failover.map { Int($0) }, "then", direct.map { Int($0) })
                #expect(good.received.count == 10)
            }
        }
    }

    @Test func requestFaultsAreNeitherRetriedNorCountedAgainstTheProvider() async throws {
        try await FakeUpstream.with { fake in
            try await FakeUpstream.with { other in
                fake.fallback(.status(400))
                try await TestNode.with(configure: {
                    Self.configure(&$0, [Self.deployment("strict", fake) { $0.breaker.consecutiveFailures = 2 }, Self.deployment("other", other)])
                }) { node in
                    for _ in 0..<4 {
                        let reply = try await Self.ask(node)
                        #expect(reply.status == 400)
                        #expect(reply.errorCode == "upstream_rejected")
                    }
                    #expect(fake.received.count == 4)
                    #expect(other.received.isEmpty)
                    let metrics = try await node.client.get("/metrics").text
                    #expect(metrics.contains(#"sluice_breaker_state{alias="gpt",deployment="strict"} 0"#))
                }
            }
        }
    }

    @Test func aBrokenStreamIsRetriedElsewhereBehindAReset() async throws {
        try await FakeUpstream.with { flaky in
            try await FakeUpstream.with { good in
                flaky.fallback(.cutAfter(3))
                try await TestNode.with(configure: { Self.configure(&$0, [Self.deployment("flaky", flaky), Self.deployment("good", good)]) }) { node in
                    let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "hi"]]])
                    let stream = try await node.client.events("/v1/jobs/\(id)/stream")
                    #expect(stream.events.map(\.name) == ["delta", "delta", "delta", "reset"] + Array(repeating: "delta", count: 8) + ["done"])
                    #expect(stream.answer == "w1 w2 w3 w4 w5 w6 w7 w8")
                    let job = try await node.client.get("/v1/jobs/\(id)").json
                    #expect(job["deployment"] as? String == "good")
                    #expect(job["attempt"] as? Int == 2)
                }
            }
        }
    }

    @Test func aStallMidStreamHitsTheIdleTimeout() async throws {
        try await FakeUpstream.with { stalling in
            try await FakeUpstream.with { good in
                stalling.fallback(.stallAfter(2))
                try await TestNode.with(configure: {
                    Self.configure(&$0, [Self.deployment("stalling", stalling) { $0.timeouts.idle = 0.3 }, Self.deployment("good", good)])
                }) { node in
                    let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "hi"]]])
                    let stream = try await node.client.events("/v1/jobs/\(id)/stream")
                    #expect(stream.events.filter { $0.name != "delta" }.map(\.name) == ["reset", "done"])
                    #expect(stream.answer == "w1 w2 w3 w4 w5 w6 w7 w8")
                }
            }
        }
    }

    @Test func withTheErrorPolicyABrokenStreamEndsIncompleteAndNeverWithDone() async throws {
        try await FakeUpstream.with { flaky in
            try await FakeUpstream.with { good in
                flaky.fallback(.cutAfter(3))
                try await TestNode.with(configure: {
                    Self.configure(&$0, [Self.deployment("flaky", flaky), Self.deployment("good", good)]) { $0.onInterrupt = .error }
                }) { node in
                    let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "hi"]]])
                    let stream = try await node.client.events("/v1/jobs/\(id)/stream")
                    #expect(stream.events.map(\.name) == ["delta", "delta", "delta", "error"])
                    #expect(stream.events.last?.json["code"] as? String == "stream_interrupted")
                    let openai = try await node.client.events(
                        "/v1/chat/completions", method: .POST, json: ["model": "gpt", "stream": true, "messages": [["role": "user", "content": "again"]]])
                    #expect(!openai.events.contains { $0.data == "[DONE]" })
                    #expect((openai.events.last?.json["error"] as? [String: Any])?["code"] as? String == "stream_interrupted")
                    #expect(good.received.isEmpty)
                }
            }
        }
    }

    @Test func retryAfterIsHonouredOnTheOnlyDeployment() async throws {
        try await FakeUpstream.with { fake in
            fake.script([.status(429, retryAfter: 1)])
            try await TestNode.with(configure: { Self.configure(&$0, [Self.deployment("only", fake)]) }) { node in
                let reply = try await Self.ask(node)
                #expect(reply.status == 200)
                let times = fake.received.map(\.at)
                #expect(times.count == 2)
                #expect(times[1].timeIntervalSince(times[0]) >= 0.95)
            }
        }
    }

    @Test func anOpenBreakerProbesAfterItsCoolDownAndCloses() async throws {
        try await FakeUpstream.with { fake in
            try await FakeUpstream.with { spare in
                fake.script([.status(500), .status(500)])
                try await TestNode.with(configure: {
                    Self.configure(&$0, [Self.deployment("main", fake) { $0.breaker.consecutiveFailures = 2; $0.breaker.openSeconds = 10 }, Self.deployment("spare", spare)])
                }) { node in
                    #expect(try await Self.ask(node, "a").status == 200)
                    #expect(try await Self.ask(node, "b").status == 200)
                    #expect(try await node.client.get("/metrics").text.contains(#"sluice_breaker_state{alias="gpt",deployment="main"} 2"#))
                    #expect(try await Self.ask(node, "c").status == 200)
                    #expect(fake.received.count == 2)
                    // Time itself: the breaker stays open for its 10 s before it lets a probe through.
                    try await Task.sleep(for: .milliseconds(10100))
                    #expect(try await Self.ask(node, "d").status == 200)
                    #expect(fake.received.count == 3)
                    #expect(try await node.client.get("/metrics").text.contains(#"sluice_breaker_state{alias="gpt",deployment="main"} 0"#))
                }
            }
        }
    }

    @Test func usageAndCostAreStoredWithTheJobAndExported() async throws {
        try await FakeUpstream.with { fake in
            try await TestNode.with(configure: {
                Self.configure(&$0, [Self.deployment("priced", fake) { $0.prices.inputPerMillion = 1; $0.prices.outputPerMillion = 2 }])
            }) { node in
                let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "price me"]]])
                let job = try await node.client.waitForJob(id, states: ["succeeded"])
                let result = try #require(job["result"] as? [String: Any])
                let cost = try #require(result["cost"] as? Double)
                #expect(abs(cost - 27e-6) < 1e-12)
                #expect(job["deployment"] as? String == "priced")
                let metrics = try await node.client.get("/metrics").text
                #expect(metrics.contains(#"sluice_tokens_total{model="gpt",kind="prompt"} 11"#))
                #expect(metrics.contains(#"sluice_tokens_total{model="gpt",kind="completion"} 8"#))
                #expect(metrics.contains(#"sluice_cost_dollars_total{model="gpt"}"#))
            }
        }
    }
}
