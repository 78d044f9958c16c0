import Foundation
import PropertyBased
@testable import SluiceCache
import SluiceTesting
import Testing

/// A student's question is arbitrary text and a model file is whatever an operator points at: reading
/// either never traps. Questions are built from the pieces the reader treats specially (numbers of
/// every size, ordinals, Roman numerals, math symbols, superscripts, Mongolian endings) and from any
/// characters; model files from valid ones cut and spliced with random bytes. Each case yields first, as
/// in `FuzzTests`, so that the nodes of other tests get their turn on the threads.
@Suite struct QuestionFuzzTests {
    static let pieces = [
        "0", "1", "2", "-", "−", "/", "^", "²", "¹⁰", "⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹⁹", "√", "=", "+", "->", "→", "%", "3.14", "1,5", "99999999999999999999999999",
        "1e308", "0/0", "5/0", "1/3", "II", "MMMMCMXCIX", "MMMMMMMMM", "I", "War", "world war", "ww2", "wwiiii", "2nd", "21st", "3x",
        "one", "hundred", "and", "twenty-five", "second", "a second", "thousand thousand million", "р", "2-р", "-р", "хоёр", "дахь",
        "хоёрдугаар", "зуун", "XIII", "зуун", "гүй", "хугардаггүй", "don't", "n't", "'", "’s", "руу", "how many", "хэдэн", "convert", "to",
        "гэрлийн", "the", "🙂", "\u{0}", "\u{301}", "ЁЁЁЁЁЁЁЁ", " ", ".", "?", "",
    ]

    @Test func readingAnyQuestionNeverTrapsAndGivesTheSameAnswerTwice() async {
        let piece = Gen<String?>.element(of: Self.pieces).map { $0 ?? "" }
        let glue = Gen<String?>.element(of: ["", " ", "-", "/"]).map { $0 ?? "" }
        let question = zip(piece, glue).array(of: 0...25).map { $0.map { $0.0 + $0.1 }.joined() }
        let analyzer = QuestionAnalyzer.shared
        let embedder = HashingEmbedder()
        await propertyCheck(count: 3000, input: question) { text in
            await Task.yield()
            let first = analyzer.analyze(text)
            let second = analyzer.analyze(text)
            #expect(first == second)
            let finite = embedder.vector(first).allSatisfy(\.isFinite)
            #expect(finite)
            _ = Question.sameContent(first.terms, first.terms)
        }
        await propertyCheck(count: 1000, input: Gen<Character>.character(in: "\u{0}"..."\u{2FFF}").string(of: 0...60)) { text in
            await Task.yield()
            _ = embedder.vector(analyzer.analyze(text))
        }
    }

    @Test func aLongQuestionIsReadInLinearTime() {
        let long = String(repeating: "Why does light bend when it enters water 2nd II хоёрдугаар гэрлийн ", count: 2000)
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = QuestionAnalyzer.shared.analyze(long) }
        // Generous: a 140 KB question reads well inside a second even in a debug build.
        #expect(elapsed < .seconds(5), "\(elapsed)")
    }

    @Test func anyDamageToAModelFileIsAnErrorNotATrap() async throws {
        let directory = TemporaryDirectory.make() + "/model"
        try StaticEmbedderTests.TinyModel.wordPiece(directory: directory)
        let model = try Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors"))
        let tokenizer = try Data(contentsOf: URL(fileURLWithPath: directory + "/tokenizer.json"))
        await propertyCheck(count: 1500, input: Gen.uint8().array(of: 0...64), Gen.int(in: 0...4000)) { bytes, cut in
            await Task.yield()
            for data in [Data(bytes), model.prefix(cut) + Data(bytes), Data(bytes) + model.dropFirst(min(cut, 8))] {
                if let tensors = try? SafeTensors(data: data) { #expect(tensors.tensors.values.allSatisfy { $0.values.count == $0.shape.reduce(1, *) }) }
            }
            for data in [Data(bytes), tokenizer.prefix(cut) + Data(bytes)] {
                if let parsed = try? StaticTokenizer(data: data) { _ = parsed.ids("why is the sky blue? гэрэл") }
            }
        }
    }
}
