import Foundation

/// Reads a question the way the built-in embedder and the semantic cache's guards need it: numbers
/// and math notation normalised, negation noted, words stemmed, the lexicon's phrases made canonical,
/// template and stop words dropped. English and Mongolian; other languages get words as written.
public struct QuestionAnalyzer: Sendable {
    /// The analyzer with the lexicons built into Sluice.
    public static let shared = QuestionAnalyzer()

    let numbers: NumberReader
    let stemmer: Stemmer
    let lexicon: Lexicon
    let stopWords: Set<String>
    /// The Mongolian ones, stems of three letters or more, for `isMisspeltParticle`.
    let mongolianStopWords: [String]
    /// Question words that are content (`who`, `when`, `where`): they ask for different things. In
    /// English only when they open the question; elsewhere they join clauses (`… bend when it enters water`).
    let questionWords: Set<String>

    /// Words dropped after the lexicon: function words and question words.
    static let functionWords = """
        who whom when where хэн хэзээ хаана a an the is are was were be been being am do does did done what why how which whose of in on at to for and or it its this \
        that these those please can could would should will shall may might must you your me i we us they their them he she \
        his her so if as by from with into onto about there here than then also just really very much many some any all both \
        each other such only own same too s t get got give gave tell say said let lets kindly between have has had having find \
        calculate compute evaluate determine show main value reason
        вэ бэ юу юм яагаад нь бол гэж гэдэг гэдгийг ямар уу үү хэрхэн яаж вэл энэ тэр эдгээр тэдгээр ба болон та би бид надад \
        өгнө өгөөч хэлнэ үү билээ байна байдаг байсан байх юун юуг юунд ийм тийм мөн бас ч л шүү даа гэх гэсэн гэвэл хийх ямар хэд ве бе вэ \
        дээр дэх аль ол олох тооцоол тооцоолох хэлээч хэр юугаараа
        """

    /// Words after which the next content term is what is asked for (`how many X`, `хэдэн X`), or,
    /// after a verb of conversion, the target (`to X`, `into X`).
    let targetAfter: [String: String]
    /// Mongolian postpositions that mark the term before them as a target.
    let targetBefore: Set<String>
    /// Mongolian `how` and `works` (`хэрхэн ажилладаг`), as English `how … work`.
    let howWords: Set<String>
    let worksWords: Set<String>
    /// Verbs after which `to` names a target.
    let conversionVerbs: Set<String>

    /// Words that end like a negation and are not one (`дэлгэрэнгүй`, detailed).
    /// Words that may come before a question word that opens a question (`so who …`, `and when …`).
    static let openers: Set<String> = ["so", "and", "but", "ok", "okay", "then", "also", "hey", "hi", "¬"]

    /// Words of arithmetic, next to which a `1` is a number.
    static let operators: Set<String> = ["plus", "minus", "equal", "equals", "over", "per", "pow", "divided", "divid", "group", "sqrt", "less", "greater", "percent"]

    static let notNegations: Set<String> = ["дэлгэрэнгүй", "дэлгэрэнгүйгээр", "дэлгэрэнгүйг"]

    static let negationWords: Set<String> = [
        "not", "no", "never", "without", "none", "nothing", "neither", "nor", "cannot", "dont", "doesnt", "isnt", "arent", "wasnt",
        "werent", "didnt", "cant", "wont", "shouldnt", "couldnt", "wouldnt", "havent", "hasnt", "hadnt", "aint",
        "биш", "үгүй", "бус", "битгий", "бүү",
    ]

    /// - Parameter resources: the lexicon files (by default, the ones built into Sluice).
    public init() {
        self.init(
            numbers: String(decoding: PackageResources.numbers_lexicon, as: UTF8.self),
            suffixes: String(decoding: PackageResources.mn_suffixes, as: UTF8.self),
            lexicons: [String(decoding: PackageResources.en_lexicon, as: UTF8.self), String(decoding: PackageResources.mn_lexicon, as: UTF8.self)])
    }

    /// An analyzer with the given lexicon files.
    init(numbers: String, suffixes: String, lexicons: [String]) {
        let reader = NumberReader(words: NumberWords(numbers))
        let stemmer = Stemmer(suffixes: suffixes)
        self.numbers = reader
        self.stemmer = stemmer
        func normalize(_ texts: [String]) -> [String] {
            texts.flatMap { Self.stems(of: $0, numbers: reader, stemmer: stemmer) }
        }
        self.lexicon = Lexicon(lexicons, normalize: normalize)
        self.howWords = Set(["хэрхэн", "яаж"].map { stemmer.stem($0) })
        self.worksWords = Set(["ажилладаг", "ажиллах", "ажиллана", "ажилладгийг"].map { stemmer.stem($0) })
        self.targetAfter = ["many": "?", "much": "?", "count": "?", stemmer.stem("хэдэн"): "?", "to": "→", "into": "→"]
        self.targetBefore = Set(["руу", "рүү", "луу", "лүү"].map { stemmer.stem($0) })
        self.conversionVerbs = Set(["convert", "change", "turn", "transform", "translate", "rewrite", "express", "хөрвүүлэх", "хөрвүүл", "шилжүүлэх", "хувиргах"].map { stemmer.stem($0) })
        self.questionWords = Set(["who", "whom", "when", "where", "хэн", "хэзээ", "хаана"].map { stemmer.stem($0) })
        let stopWords = Set(Self.functionWords.split(whereSeparator: { $0 == " " || $0.isNewline }).map { stemmer.stem(String($0)) })
        self.stopWords = stopWords
        self.mongolianStopWords = stopWords.filter { $0.count >= 3 && $0.unicodeScalars.first.map { (0x400...0x4FF).contains($0.value) } == true }.sorted()
    }

    /// A Mongolian stem one typo from a function word (`ягаад` for `яагаад`): students type particles fast.
    func isMisspeltParticle(_ stem: String) -> Bool {
        guard stem.count >= 3, stem.unicodeScalars.first.map({ (0x400...0x4FF).contains($0.value) }) == true else { return false }
        return mongolianStopWords.contains { Question.typo(stem, $0, shortest: 3) }
    }

    /// The problems the built-in lexicon files have (a test keeps this empty).
    var lexiconProblems: [String] { lexicon.problems }

    /// The analysis of a question.
    public func analyze(_ text: String) -> Question {
        let stems = Self.stems(of: text, numbers: numbers, stemmer: stemmer)
        var negated = false
        var values: [String] = []
        var terms: [String] = []
        var marker: String?
        var converting = false
        var previous = ""
        let read = lexicon.apply(stems)
        for (index, stem) in read.enumerated() {
            // A cardinal one next to an operator is the number (`1 - 4`); elsewhere it may be an article.
            if stem == "#~1" {
                let neighbours = [index > 0 ? read[index - 1] : "", index + 1 < read.count ? read[index + 1] : ""]
                if neighbours.contains(where: { Self.operators.contains($0) || $0.hasPrefix("#") }) { values.append("#1") }
                previous = stem
                continue
            }
            defer { previous = stem }
            if stem == "¬" {
                negated = true
                continue
            }
            if conversionVerbs.contains(stem) { converting = true }
            if let target = targetAfter[stem], target == "?" ? !["many", "much"].contains(stem) || previous == "how" : converting {
                // `how many bits in a byte` is not `how many bytes in a bit`; `convert decimal to binary`
                // is not `convert binary to decimal`: the next term is marked as what is asked for.
                marker = target
                continue
            }
            if targetBefore.contains(stem), let last = terms.indices.last {
                // Mongolian postpositions follow their noun: `аравтын тоолол руу`.
                terms[last] = "→" + terms[last]
                continue
            }
            if questionWords.contains(stem), read[..<index].allSatisfy(Self.openers.contains) || stem.unicodeScalars.first.map({ $0.value >= 0x400 }) == true {
                // `Who invented …?` and `When was … invented?` ask for different things. (In Mongolian
                // they are question words wherever they stand.)
                terms.append(stem)
            } else if stopWords.contains(stem) || isMisspeltParticle(stem) {
                continue
            } else if stem.hasPrefix("#") || stem.contains(where: \.isNumber) {
                values.append(stem)
            } else {
                terms.append((marker ?? "") + stem)
                marker = nil
            }
        }
        // `How does X work?` asks what `explain X` asks (not `how much work`); `2 + 2 = ?` what `what is 2 + 2`.
        if stems.contains("how"), !read.contains("amount"), terms.count > 1 { terms.removeAll { $0 == "work" } }
        if stems.contains(where: howWords.contains), terms.count > 1 { terms.removeAll { worksWords.contains($0) } }
        if terms.count > 1, terms.last == "equal", read.last(where: { !stopWords.contains($0) }) == "equal" { terms.removeLast() }
        return Question(language: Self.language(text), values: values, negated: negated, terms: terms)
    }

    /// A text's words as stems, numbers as `#value`, and whether it negates.
    static func stems(of text: String, numbers: NumberReader, stemmer: Stemmer) -> [String] {
        var stems: [String] = []
        var afterNumberOrLatin = false
        for word in numbers.read(QuestionToken.split(text)) {
            if word.hasPrefix("#") {
                stems.append(word)
                afterNumberOrLatin = true
                continue
            }
            // A Mongolian case ending written apart after a number or a Latin formula inflects it: no content.
            defer { afterNumberOrLatin = word.unicodeScalars.allSatisfy { !(0x400...0x4FF).contains($0.value) } }
            if afterNumberOrLatin, stemmer.isEnding(word) { continue }
            var word = word.contains("’") ? word.replacingOccurrences(of: "’", with: "'") : word
            // Negation is a token, `¬`, so that a template phrase with one (`i don't get`) can drop it.
            if negationWords.contains(word) {
                stems.append("¬")
                continue
            }
            if word.hasSuffix("n't") {
                stems.append("¬")
                word.removeLast(3)
                word = ["ca": "can", "wo": "will", "sha": "shall"][word] ?? word
            } else if !Self.notNegations.contains(word), let positive = stemmer.negation(word) {
                stems.append("¬")
                word = positive
            }
            if let apostrophe = word.firstIndex(of: "'") { word = String(word[..<apostrophe]) }
            if !word.isEmpty { stems.append(stemmer.stem(word)) }
        }
        return stems
    }

    /// `mn` when most letters are Cyrillic, `en` when most are Latin, `other` otherwise.
    static func language(_ text: String) -> String {
        var cyrillic = 0, latin = 0, other = 0
        for scalar in text.unicodeScalars where CharacterSet.letters.contains(scalar) {
            switch scalar.value {
            case 0x400...0x4FF: cyrillic += 1
            case 0x41...0x5A, 0x61...0x7A: latin += 1
            default: other += 1
            }
        }
        if cyrillic > latin && cyrillic >= other { return "mn" }
        if latin >= other && latin > 0 { return "en" }
        return other > 0 ? "other" : "en"
    }
}
