import Foundation
import SluiceCore
import Testing

@Suite struct RandomIDTests {
    /// Job ids made later sort after earlier ones (so the stores' indexes grow at one end), keep the shape
    /// of a random id (prefix, 48 hex digits) and stay unguessable: two made in the same millisecond differ.
    @Test func timeOrderedIDsSortByTimeAndStayRandom() {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        // Ten milliseconds apart: a step of one could fall twice into one millisecond in floating point.
        let ids = (0..<200).map { RandomID.timeOrdered("job_", words: 2, now: start.addingTimeInterval(Double($0) * 0.01)) }
        let misordered = zip(ids, ids.dropFirst()).filter { $0 >= $1 }.count
        #expect(misordered == 0, "later ids sort after earlier ones")
        #expect(ids.allSatisfy { $0.hasPrefix("job_") && $0.count == 4 + 48 && $0.dropFirst(4).allSatisfy(\.isHexDigit) })
        let sameMoment = (0..<100).map { _ in RandomID.timeOrdered("job_", words: 2, now: start) }
        #expect(Set(sameMoment).count == 100, "the random part tells apart ids of one millisecond")
        #expect(Job.newID().count == RandomID.make("job_", words: 3).count, "a job id is as long as it was")
    }
}
