import SluiceCore
import SluiceProviders
import Testing

@Suite struct MockProviderTests {
    func collect(_ provider: MockProvider, _ request: ChatRequest) async throws -> (String, ProviderEvent?) {
        var text = ""
        var last: ProviderEvent?
        for try await event in provider.stream(request, upstreamModel: "mock") {
            if case .delta(let delta) = event { text += delta } else { last = event }
        }
        return (text, last)
    }

    @Test func answersAreDeterministicPerPromptAndScripted() async throws {
        let provider = MockProvider(configuration: .init(tokens: 5))
        let question = ChatRequest(model: "mock", messages: [ChatMessage(role: "user", content: "why is the sky blue?")])
        let (first, finish) = try await collect(provider, question)
        let (second, _) = try await collect(provider, question)
        #expect(first == second)
        #expect(first.split(separator: " ").count == 5)
        #expect(finish == .finish(reason: "stop", usage: Usage(promptTokens: 5, completionTokens: 5), fingerprint: "fp_sluice_mock"))
        var other = question
        other.messages[0] = ChatMessage(role: "user", content: "what is refraction?")
        #expect(try await collect(provider, other).0 != first)
        var scripted = question
        scripted.mock = MockScript(tokens: 9)
        #expect(try await collect(provider, scripted).0.split(separator: " ").count == 9)
        #expect(provider.activeCalls == 0)
        #expect(provider.totalCalls == 4)
    }

    @Test func scriptedFailures() async throws {
        let provider = MockProvider()
        var request = ChatRequest(model: "mock", messages: [ChatMessage(role: "user", content: "hi")], mock: MockScript(tokens: 20, fail: "status:503"))
        await #expect(throws: ProviderError.self) { _ = try await collect(provider, request) }
        request.mock = MockScript(tokens: 20, fail: "after:12")
        var seen = 0
        do {
            for try await event in provider.stream(request, upstreamModel: "mock") {
                if case .delta = event { seen += 1 }
            }
            Issue.record("the stream should have been cut")
        } catch let error as ProviderError {
            #expect(error.code == .interrupted)
        }
        #expect(seen == 12)
        #expect(provider.activeCalls == 0)
    }

    @Test func maxTokensCapsTheAnswer() async throws {
        let provider = MockProvider(configuration: .init(tokens: 30))
        let request = ChatRequest(model: "mock", messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 4)
        let (text, finish) = try await collect(provider, request)
        #expect(text.split(separator: " ").count == 4)
        if case .finish(let reason, _, _) = finish { #expect(reason == "length") } else { Issue.record("no finish") }
    }
}
