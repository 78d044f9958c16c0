import Foundation

/// Folds the forms of a word to one stem, so `refracts`, `refraction` and `refracting` meet, and
/// `гэрэл`, `гэрлийн` and `гэрлээр` do. English: a light suffix stripper (plurals, `-ing`, `-ed`, `-ly`,
/// `-ion`, a final `e`). Mongolian: up to two inflectional endings from `Lexicon/mn.suffixes`, then the
/// vowels after the first syllable's are dropped, which folds fleeting vowels (`гэрэл`/`гэрл-`) and the
/// vowel harmony of endings.
struct Stemmer: Sendable {
    /// Mongolian endings, longest first.
    let suffixes: [String]
    /// Endings that negate (`-гүй`): never stripped silently.
    let negatingSuffixes: [String]

    /// Vowels (and the semi-vowel й); not the signs ь and ъ, which keep `томьёо` apart from `томуу`.
    static let mongolianVowels: Set<Character> = ["а", "э", "о", "у", "ө", "ү", "ы", "и", "й", "е", "ё", "ю", "я"]
    static let englishVowels: Set<Character> = ["a", "e", "i", "o", "u", "y"]

    /// - Parameter suffixes: the contents of `mn.suffixes`: one ending per line, `!` after one that negates.
    init(suffixes text: String) {
        var suffixes: [String] = []
        var negating: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let entry = (line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces)
            let ending = entry.trimmingCharacters(in: CharacterSet(charactersIn: "-! ")).lowercased()
            guard !ending.isEmpty, !ending.contains(" ") else { continue }
            if entry.hasSuffix("!") { negating.append(ending) } else { suffixes.append(ending) }
        }
        self.suffixes = Array(Set(suffixes)).sorted { ($0.count, $0) > ($1.count, $1) }
        self.negatingSuffixes = negating.sorted { $0.count > $1.count }
        self.suffixesByLast = Dictionary(grouping: self.suffixes) { $0.last! }
        self.negatingLast = Set(negating.compactMap(\.last))
    }

    /// The last letters of negating endings.
    let negatingLast: Set<Character>

    /// The endings by their last letter, longest first: a word is only compared with the endings it can have.
    let suffixesByLast: [Character: [String]]

    /// Whether a word is only an ending, written apart from what it inflects (`0 -ийг`, `60 ын`, `RAM-ын`).
    func isEnding(_ word: String) -> Bool {
        guard let last = word.last else { return false }
        return suffixesByLast[last]?.contains(word) == true
    }

    /// The stem of a lower-case word.
    func stem(_ word: String) -> String {
        if word.unicodeScalars.contains(where: { (0x400...0x4FF).contains($0.value) }) { return mongolian(word) }
        if word.allSatisfy({ $0.isASCII && $0.isLetter }) { return english(word) }
        return word
    }

    /// Whether a Mongolian word ends in a negating ending (`хугардаггүй`), and the word without it.
    func negation(_ word: String) -> String? {
        guard let last = word.last, negatingLast.contains(last) else { return nil }
        for ending in negatingSuffixes where word.hasSuffix(ending) && word.count > ending.count + 1 {
            return String(word.dropLast(ending.count))
        }
        return nil
    }

    func mongolian(_ word: String) -> String {
        var stem = word
        for _ in 0..<2 {
            guard let last = stem.last, let ending = suffixesByLast[last]?.first(where: { stem.hasSuffix($0) && stem.count - $0.count >= 3 }) else { break }
            stem.removeLast(ending.count)
        }
        // Students without a Mongolian keyboard write о for ө, у for ү, е for ё.
        return String(Self.skeleton(stem, vowels: Self.mongolianVowels).map { $0 == "ө" ? "о" : $0 == "ү" ? "у" : $0 == "ё" ? "е" : $0 })
    }

    /// The letters up to the end of the first vowel run, then only consonants.
    static func skeleton(_ word: String, vowels: Set<Character>) -> String {
        var result = ""
        var seenVowel = false
        var pastFirstSyllable = false
        for character in word {
            let vowel = vowels.contains(character)
            if vowel { seenVowel = true }
            if seenVowel && !vowel { pastFirstSyllable = true }
            if !(vowel && pastFirstSyllable) { result.append(character) }
        }
        return result
    }

    func english(_ word: String) -> String {
        var w = word
        guard w.count > 3 else { return w }
        if w.hasSuffix("'s") { w.removeLast(2) }
        if w.hasSuffix("ies"), w.count > 4 {
            w.removeLast(3)
            w += "y"
        } else if w.hasSuffix("sses") {
            w.removeLast(2)
        } else if w.hasSuffix("es"), w.count > 4, ["sh", "ch", "x", "z", "ss"].contains(where: { w.dropLast(2).hasSuffix($0) }) {
            w.removeLast(2)
        } else if w.hasSuffix("s"), !w.hasSuffix("ss"), !w.hasSuffix("us"), !w.hasSuffix("is"), w.count > 3 {
            w.removeLast()
        }
        if w.hasSuffix("ied"), w.count > 4 {
            w.removeLast(3)
            w += "y"
        } else if w.hasSuffix("ing"), w.count >= 6, w.dropLast(3).contains(where: { Self.englishVowels.contains($0) }) {
            w.removeLast(3)
            w = Self.undouble(w)
        } else if w.hasSuffix("ed"), w.count >= 5, !w.hasSuffix("eed") {
            w.removeLast(2)
            w = Self.undouble(w)
        } else if w.hasSuffix("ly"), w.count >= 6 {
            w.removeLast(2)
        }
        // refraction → refract, rotation → rotat (as rotate → rotat); not solution → solut, which is solute.
        if w.hasSuffix("ion"), w.count >= 7, ["ct", "st", "pt", "ss", "at"].contains(where: { w.dropLast(3).hasSuffix($0) }) {
            w.removeLast(3)
        }
        if w.hasSuffix("e"), w.count > 3 { w.removeLast() }
        return w
    }

    /// `runn` → `run`, but `fall`, `pass` and `buzz` keep their letters.
    static func undouble(_ w: String) -> String {
        guard w.count >= 3, let last = w.last, w.dropLast().last == last, !"lsz".contains(last), !englishVowels.contains(last) else { return w }
        return String(w.dropLast())
    }
}
