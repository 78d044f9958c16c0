import Foundation
import SluiceCore
import Testing

/// A semantic key's vector is stored as its floats' bytes in base64, read back bit for bit by either
/// encoder's output, and a key stored as a list of numbers (before) is still read.
@Suite struct SemanticKeyCodingTests {
    static let key = SemanticKey(
        embedder: "builtin-v3", partition: "tenant|default|",
        vector: [0, -0.0, 1, -1, .pi, 1e-38, -3.4e38, .leastNonzeroMagnitude, 0.1, 0.2], terms: ["photosynthesis"])

    @Test func theVectorGoesOutAsBase64AndComesBackBitForBit() throws {
        for data in [try JSONEncoder().encode(Self.key), try StreamingJSONEncoder().encode(Self.key)] {
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["vector"] is String, "written as one string, not \(type(of: object["vector"]))")
            let back = try JSONDecoder().decode(SemanticKey.self, from: data)
            #expect(back.vector.map(\.bitPattern) == Self.key.vector.map(\.bitPattern))
            #expect(back.embedder == Self.key.embedder && back.partition == Self.key.partition && back.terms == Self.key.terms)
        }
    }

    @Test func aKeyStoredAsNumbersIsStillRead() throws {
        let old = #"{"embedder":"builtin-v3","partition":"p","vector":[0.5,-0.25,3],"terms":null}"#
        let key = try JSONDecoder().decode(SemanticKey.self, from: Data(old.utf8))
        #expect(key.vector == [0.5, -0.25, 3] && key.terms == nil)
    }

    @Test func bytesThatAreNotWholeFloatsAreRefused() {
        let broken = #"{"embedder":"e","partition":"p","vector":"AAAAAP8="}"#  // five bytes
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SemanticKey.self, from: Data(broken.utf8)) }
    }
}
