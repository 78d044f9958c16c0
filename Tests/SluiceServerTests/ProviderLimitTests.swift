import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct ProviderLimitTests {
    @Test func theRequestsPerMinuteCapSendsTheRestElsewhere() async throws {
        try await FakeUpstream.with { capped in
            try await FakeUpstream.with { spare in
                try await TestNode.with(configure: {
                    ProviderTests.configure(&$0, [ProviderTests.deployment("capped", capped) { $0.requestsPerMinute = 2 }, ProviderTests.deployment("spare", spare)])
                }) { node in
                    for n in 0..<5 {
                        let reply = try await ProviderTests.ask(node, "q\(n)")
                        #expect(reply.status == 200)
                    }
                    #expect(capped.received.count == 2)
                    #expect(spare.received.count == 3)
                }
            }
        }
    }

    @Test func neverMoreThanTheAllowedShareOfDeploymentsIsEjected() async throws {
        try await FakeUpstream.with { one in
            try await FakeUpstream.with { two in
                one.fallback(.status(500))
                two.fallback(.status(500))
                try await TestNode.with(configure: {
                    ProviderTests.configure(&$0, [
                        ProviderTests.deployment("one", one) { $0.breaker.consecutiveFailures = 2 },
                        ProviderTests.deployment("two", two) { $0.breaker.consecutiveFailures = 2 },
                    ])
                    $0.queue.maxAttempts = 2
                }) { node in
                    for n in 0..<6 {
                        let reply = try await ProviderTests.ask(node, "q\(n)")
                        #expect(reply.status == 502)
                    }
                    let metrics = try await node.client.get("/metrics").text
                    let open = ["one", "two"].filter { metrics.contains(#"sluice_breaker_state{alias="gpt",deployment="\#($0)"} 2"#) }
                    #expect(open.count == 1, "\(metrics)")
                }
            }
        }
    }

    @Test func providerKeysNeverReachLogsErrorsOrMetrics() async throws {
        try await FakeUpstream.with { fake in
            fake.script([.status(500), .status(401), .cutAfter(2)])
            let secret = "sk-very-secret-\(UUID().uuidString)"
            let data = TemporaryDirectory.make()
            let config = data + "/sluice.yaml"
            try """
                deployments:
                  names: [upstream]
                  upstream:
                    provider: openai
                    baseURL: \(fake.openAIBaseURL)
                    model: gpt-4o-mini
                    apiKeyEnv: TEST_UPSTREAM_KEY
                models:
                  aliases: [gpt]
                  gpt:
                    deployments: [upstream]
                queue:
                  backoffBaseMs: 10
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let log = data + "/sluice.log"
            let node = try await SluiceProcess(
                dataDirectory: data, environment: ["TEST_UPSTREAM_KEY": secret], arguments: ["--config", config, "--log-level", "trace"], logFile: log)
            defer { node.kill() }
            var seen = ""
            for n in 0..<4 {
                let reply = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "q\(n)"]]])
                seen += reply.text
            }
            let stream = try await node.client.events("/v1/chat/completions", method: .POST, json: ["model": "gpt", "stream": true, "messages": [["role": "user", "content": "s"]]])
            seen += stream.events.map(\.data).joined()
            seen += try await node.client.get("/metrics").text
            _ = await node.terminate()
            let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(fake.received.first?.headers["authorization"] == "Bearer \(secret)")
            #expect(!logged.isEmpty)
            #expect(logged.contains("provider call failed"))
            #expect(!logged.contains(secret))
            #expect(!seen.contains(secret))
            #expect(!seen.contains("sk-very-secret"))
        }
    }
}

@Suite struct WeightedRoutingTests {
    @Test func theWeightedStrategySplitsTrafficByWeight() async throws {
        try await FakeUpstream.with { heavy in
            try await FakeUpstream.with { light in
                try await TestNode.with(configure: {
                    ProviderTests.configure(&$0, [
                        ProviderTests.deployment("heavy", heavy) { $0.weight = 4 }, ProviderTests.deployment("light", light) { $0.weight = 1 },
                    ]) { $0.strategy = .weighted }
                }) { node in
                    for n in 0..<60 {
                        let reply = try await ProviderTests.ask(node, "q\(n)")
                        #expect(reply.status == 200)
                    }
                    // 48 expected on heavy; 36 or more holds with overwhelming probability.
                    #expect(heavy.received.count >= 36)
                    #expect(light.received.count >= 1)
                    #expect(heavy.received.count + light.received.count == 60)
                }
            }
        }
    }
}

@Suite struct ProviderTLSTests {
    @Test func providersSpeakHTTPSAndTrustOnlyTheConfiguredAuthority() async throws {
        try await FakeUpstream.with(tls: true) { fake in
            #expect(fake.openAIBaseURL.hasPrefix("https://"))
            try await TestNode.with(configure: {
                ProviderTests.configure(&$0, [
                    ProviderTests.deployment("trusted", fake) { $0.caFile = FakeUpstream.certificateFile },
                    ProviderTests.deployment("claude", fake, kind: .anthropic) { $0.caFile = FakeUpstream.certificateFile },
                ])
                $0.aliases.append(ModelAlias(name: "untrusted", deployments: ["untrusted"]))
                $0.deployments.append(ProviderTests.deployment("untrusted", fake))
                $0.aliases.append(ModelAlias(name: "claude", deployments: ["claude"]))
                $0.queue.maxAttempts = 1
            }) { node in
                let trusted = try await ProviderTests.ask(node, "over tls")
                #expect(trusted.status == 200)
                #expect(ProviderTests.text(trusted) == "w1 w2 w3 w4 w5 w6 w7 w8")
                let anthropic = try await ProviderTests.ask(node, "over tls", model: "claude")
                #expect(anthropic.status == 200)
                // Without the authority, the self-signed certificate is refused: no request reaches it.
                let before = fake.received.count
                let untrusted = try await ProviderTests.ask(node, "not trusted", model: "untrusted")
                #expect(untrusted.status == 502)
                #expect(untrusted.errorCode == "provider_error")
                #expect(fake.received.count == before)
            }
        }
    }
}
