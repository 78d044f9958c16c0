import SluiceCore
import Testing

@Suite struct FairQueueTests {
    @Test func strictPriorityThenRoundRobinAcrossUsers() {
        var queue = FairQueue<String>()
        for n in 1...5 { queue.push("a\(n)", id: "a\(n)", user: "alice", priority: .interactive) }
        queue.push("b1", id: "b1", user: "bob", priority: .interactive)
        queue.push("w1", id: "w1", user: "warm", priority: .batch)
        queue.push("t1", id: "t1", user: "teacher", priority: .bypass)
        var order: [String] = []
        while let item = queue.pop() { order.append(item) }
        #expect(order == ["t1", "a1", "b1", "a2", "a3", "a4", "a5", "w1"])
    }

    @Test func positionPredictsServiceOrder() {
        var queue = FairQueue<String>()
        for n in 1...3 { queue.push("a\(n)", id: "a\(n)", user: "alice", priority: .interactive) }
        queue.push("b1", id: "b1", user: "bob", priority: .interactive)
        queue.push("b2", id: "b2", user: "bob", priority: .interactive)
        queue.push("t1", id: "t1", user: "teacher", priority: .bypass)
        let predicted = ["t1", "a1", "b1", "a2", "b2", "a3"].map { queue.position(of: $0) }
        #expect(predicted == [0, 1, 2, 3, 4, 5])
    }

    @Test func aHopelessSearchStopsAtTheFirstRefusalAndKeepsEveryTurn() {
        var queue = FairQueue<String>()
        for user in 0..<100 { queue.push("q\(user)", id: "q\(user)", user: "u\(user)", priority: .interactive) }
        var asked = 0
        let none: (String, Bool)? = queue.pop(claim: { _, _ -> Bool? in
            asked += 1
            return nil
        }, hopeless: { true })
        #expect(none == nil)
        #expect(asked == 1, "one refusal, then the caller said nothing else could be taken")
        #expect(queue.count == 100)
        #expect(queue.pop() == "q0", "the first user kept their turn")
    }

    @Test func usersAtTheirCapAreSkippedWithoutLosingTheirTurn() {
        var queue = FairQueue<String>()
        queue.push("a1", id: "a1", user: "alice", priority: .interactive)
        queue.push("b1", id: "b1", user: "bob", priority: .interactive)
        #expect(queue.pop(where: { $0 != "alice" }) == "b1")
        #expect(queue.pop(where: { $0 != "alice" }) == nil)
        #expect(queue.pop() == "a1")
    }

    @Test func removeTakesAnItemOutAndKeepsTheRest() {
        var queue = FairQueue<String>()
        queue.push("a1", id: "a1", user: "alice", priority: .interactive)
        queue.push("a2", id: "a2", user: "alice", priority: .interactive)
        #expect(queue.remove(id: "a1") == "a1")
        #expect(queue.remove(id: "a1") == nil)
        #expect(queue.count == 1)
        #expect(queue.pop() == "a2")
        #expect(queue.isEmpty)
    }
}

@Suite struct BackoffTests {
    @Test func ceilingDoublesUpToTheCap() {
        let backoff = Backoff(base: 0.5, cap: 4)
        #expect((1...5).map { backoff.ceiling(retry: $0) } == [0.5, 1, 2, 4, 4])
    }

    @Test func delaysStayWithinTheCeiling() {
        let backoff = Backoff(base: 0.5, cap: 4)
        for retry in 1...6 {
            for _ in 0..<200 {
                let delay = backoff.delay(retry: retry)
                #expect(delay >= 0 && delay <= backoff.ceiling(retry: retry))
            }
        }
    }
}

@Suite struct LanguageTests {
    @Test func picksMongolianOnlyWhenPreferred() {
        #expect(Language.from(acceptLanguage: "mn-MN,mn;q=0.9,en;q=0.5") == .mn)
        #expect(Language.from(acceptLanguage: "en-US,mn;q=0.3") == .en)
        #expect(Language.from(acceptLanguage: nil) == .en)
        #expect(Language.from(acceptLanguage: "fr") == .en)
    }

    @Test func everyErrorHasBothLanguagesAndFillsItsDetails() {
        for code in SluiceError.Code.allCases {
            let error = SluiceError(code, details: ["reason": "R", "limit": "9", "field": "F", "model": "M", "models": "X", "id": "I", "seconds": "7", "reset": "T", "deployment": "D", "object": "O", "object_mn": "Ob"])
            let en = error.message(language: .en)
            let mn = error.message(language: .mn)
            #expect(!en.isEmpty && !mn.isEmpty && en != mn)
            #expect(!en.contains("{") && !mn.contains("{"))
        }
        #expect(SluiceError(.deadlineExceeded, details: ["seconds": "120"]).message(language: .mn).contains("120 секунд"))
    }
}
