import Foundation
import SluiceCache
import SluiceCore
import Testing

/// The exact-cache key, hashed in one pass over a canonical form.
@Suite struct CacheKeyTests {
    static func key(_ json: String, tenant: String = "t", namespace: String = "") throws -> String {
        CacheKey.exact(try JSONDecoder().decode(ChatRequest.self, from: Data(json.utf8)), tenant: tenant, namespace: namespace)
    }

    @Test func theSameRequestWrittenDifferentlyHasOneKey() throws {
        let a = try Self.key(#"{"model": "m", "temperature": 1, "messages": [{"role": "user", "content": "Сайн уу?"}], "top_p": 0.5}"#)
        let b = try Self.key(#"{"top_p": 0.5, "messages": [{"content": "Сайн уу?", "role": "user"}], "temperature": 1.0, "model": "m"}"#)
        // What names or delivers the answer does not change it.
        let c = try Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "Сайн уу?"}], "top_p": 0.5, "temperature": 1, "stream": true, "user": "u1", "metadata": {"a": "b"}}"#)
        #expect(a == b)
        #expect(a == c)
        #expect(a.count == 64 && a.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test func whatChangesTheAnswerChangesTheKey() throws {
        let base = #"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#
        let keys = try [
            Self.key(base),
            Self.key(#"{"model": "m2", "messages": [{"role": "user", "content": "hi"}]}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi "}]}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "system", "content": "hi"}]}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 1}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": ["a"]}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "a"}"#),
            Self.key(#"{"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": ""}]}"#),
            Self.key(base, tenant: "t2"),
            Self.key(base, namespace: "n"),
            // Strings are length-prefixed: moving a boundary between tenant and namespace is another key.
            Self.key(base, tenant: "ab", namespace: "c"),
            Self.key(base, tenant: "a", namespace: "bc"),
        ]
        #expect(Set(keys).count == keys.count)
    }
}
