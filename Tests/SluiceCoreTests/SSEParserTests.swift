import SluiceCore
import Testing

@Suite struct SSEParserTests {
    @Test func eventsSplitAnywhereAndAnyLineEndParseTheSame() {
        let text = "id: 1\nevent: delta\ndata: {\"a\":1}\n\n: heartbeat\r\n\r\ndata: two\rdata: lines\r\rretry: 3000\n\n"
        var whole = SSEParser()
        let expected = whole.feed(text)
        #expect(expected == [
            .event(SSEEvent(id: "1", name: "delta", data: "{\"a\":1}")), .comment("heartbeat"),
            .event(SSEEvent(data: "two\nlines")), .retry(3000),
        ])
        let bytes = Array(text.utf8)
        for cut in 1..<bytes.count {
            var parser = SSEParser()
            #expect(parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...]) == expected, "cut at \(cut)")
            // Bytes not held together (a lazy sequence) parse the same.
            var lazy = SSEParser()
            #expect(lazy.feed(bytes[..<cut].lazy.map { $0 }) + lazy.feed(bytes[cut...].lazy.map { $0 }) == expected, "cut at \(cut), lazily")
        }
    }

    @Test func anEventPastTheLimitStopsTheParserInsteadOfGrowing() {
        var parser = SSEParser()
        parser.maxEventBytes = 1000
        #expect(parser.feed("data: small\n\n") == [.event(SSEEvent(data: "small"))])
        let items = parser.feed("data: " + String(repeating: "x", count: 5000))
        #expect(items == [.oversized])
        #expect(parser.feed("\n\ndata: after\n\n").isEmpty)
    }

    @Test func theLimitCountsEveryByteOfAnEventAcrossFeedsLineEndsIncluded() {
        // 11 bytes exactly: "data: abc\n" and the blank line that ends the event.
        var parser = SSEParser()
        parser.maxEventBytes = 11
        #expect(parser.feed("data: ") + parser.feed("abc\n") + parser.feed("\n") == [.event(SSEEvent(data: "abc"))])
        // The `\n` of a `\r\n` counts too: 12 bytes, split across feeds.
        var over = SSEParser()
        over.maxEventBytes = 11
        #expect(over.feed("data: abc\r") + over.feed("\n\r") == [.oversized])
    }
}
