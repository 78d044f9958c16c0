import Foundation

/// Reads the numbers of a question however they are written — digits (`2`, `3.5`, `1/2`), words
/// (`twenty-five`, `хорин тав`), ordinals (`2nd`, `second`, `2-р`, `хоёрдугаар`, `хоёр дахь`), Roman
/// numerals (`World War II`, `XIII зуун`), `WW2` — and math notation (`x^2`, `x²`, `x squared`, `√`,
/// `+`, `=`), and gives the question back as words in which every number is `#value`.
struct NumberReader: Sendable {
    let words: NumberWords

    /// Words before which a lone capital `I`, `V` or `X` is a numeral (`World War I`, `Chapter V`).
    static let numeralContexts: Set<String> = ["war", "chapter", "part", "book", "act", "volume", "phase", "type", "article", "grade", "class", "henry", "louis", "george", "edward", "richard", "elizabeth", "charles", "james", "william", "peter", "ivan", "pope", "pius", "leo", "world"]
    /// Words after which `one` is a pronoun, not a number (`which one`, `the one`).
    static let pronounOne: Set<String> = ["which", "this", "that", "the", "each", "every", "no", "any", "some", "another", "other", "someone", "anyone", "everyone"]
    /// Words after which `хоёр` means "the two (of them)".
    static let theTwo = ["юугаараа", "ямар", "ялгаа", "хоорон", "нь", "юу", "адил", "төст"]
    /// Words after which `second` is a unit of time (`a second`, `per second`).
    static let timeSecond: Set<String> = ["a", "per", "one", "each", "every", "half", "split", "#"]

    static let mathWords: [String: [String]] = [
        // Multiplication is mostly unwritten (`2(x + 3)`, `3x`): written or not, it is the same question.
        "+": ["plus"], "=": ["equals"], "*": [], "×": [], "·": [], "times": [], "multiplied": [], "÷": ["divided"], "√": ["sqrt"],
        "%": ["percent"], "<": ["less"], ">": ["greater"], "→": ["yields"], "ⁿ": ["pow", "n"], "°": ["degree"],
        // A Cyrillic х is the variable x in a Mongolian student's algebra (`3х + 5 = 20`).
        "х": ["x"], "икс": ["x"],
        "squared": ["pow", "#2"], "cubed": ["pow", "#3"],
    ]

    /// Mongolian words for squared and cubed, read so only after a variable or a number.
    static let powerWords: [String: [String]] = ["квадрат": ["pow", "#2"], "куб": ["pow", "#3"]]

    /// A one-letter variable as the reader leaves it (`x`, `y`, `a`).
    static func isVariable(_ word: String) -> Bool {
        word.count == 1 && word.first.map { $0.isLetter && $0.isASCII } == true
    }

    func read(_ tokens: [QuestionToken]) -> [String] {
        var out: [String] = []
        var i = 0
        var lastOrdinal = false
        func emit(_ value: Double, ordinal: Bool = false) {
            // A cardinal one (`1`, `one`) may be only an article (`in 1 byte`, `in a byte`): marked `#~1`.
            out.append(value == 1 && !ordinal ? "#~1" : "#" + Self.format(value))
            lastOrdinal = ordinal
        }
        while i < tokens.count {
            let token = tokens[i]
            let next = i + 1 < tokens.count ? tokens[i + 1] : nil
            let previous = out.last ?? ""
            switch token.kind {
            case .symbol:
                lastOrdinal = false
                if token.text == "^" {
                    // `x^2`, and `2^x`: a power either way.
                    out.append("pow")
                    i += 1
                    continue
                }
                if token.text == "(" || token.text == ")" {
                    // Brackets that group a product (`2(x + 3)`) change the question; a function's (`sin(x)`) do not.
                    if token.text == "(", previous.hasPrefix("#") || previous == "group" { out.append("group") }
                    i += 1
                    continue
                }
                // A case ending hyphened to a word or number (`Python-д`, `NaCl-ийн`) is no word and no minus.
                if token.text == "-", let next, next.kind == .word, next.text.count <= 5, !out.isEmpty,
                   next.text.unicodeScalars.allSatisfy({ (0x400...0x4FF).contains($0.value) })
                {
                    i += 2
                    continue
                }
                if token.text == "-" || token.text == "−" {
                    // A minus before an operand (`-7`, `x - 4x`); a hyphen anywhere else (`twenty-five`, `well-known`).
                    let operandAfter = next.map { $0.kind == .number || $0.kind == .word && ($0.text.count == 1 || $0.text.first?.isNumber == true) } ?? false
                    if next?.text == ">" {
                        out.append("yields")
                        i += 2
                        continue
                    }
                    if operandAfter { out.append("minus") }
                } else if token.text == "/" {
                    out.append(previous.hasPrefix("#") || next?.kind == .number ? "over" : "per")
                } else if let words = Self.mathWords[token.text] {
                    out += words
                }
            case .number:
                guard var value = Double(token.text), value.isFinite else {
                    // Digits too long for a number are still a value to agree on, as written.
                    out.append("#" + token.text)
                    i += 1
                    continue
                }
                var ordinal = false
                // A fraction: 1/2.
                if next?.text == "/", i + 2 < tokens.count, tokens[i + 2].kind == .number, let denominator = Double(tokens[i + 2].text), denominator != 0 {
                    value /= denominator
                    i += 2
                }
                // Mongolian ordinals written with digits: 2-р, 13-р, 2-р анги, 3 дахь; a case ending on a
                // number (`20-д`, `5-ын`) is no word and no minus.
                if let next, next.kind == .symbol, next.text == "-", i + 2 < tokens.count, tokens[i + 2].kind == .word,
                   tokens[i + 2].text.unicodeScalars.allSatisfy({ (0x400...0x4FF).contains($0.value) }), tokens[i + 2].text.count <= 6
                {
                    ordinal = NumberWords.ordinalEndings.contains(where: { tokens[i + 2].text.hasPrefix($0) })
                    i += 2
                } else if let next, next.kind == .word, ["дахь", "дэх", "дугаар", "дүгээр", "р"].contains(next.text) {
                    ordinal = true
                    i += 1
                }
                // A number after a word that takes numerals names one (`World War 1`, `chapter 1`), as `I` does.
                if Self.numeralContexts.contains(previous) { ordinal = true }
                // `3 million`, `3 сая`.
                if !ordinal, i + 1 < tokens.count, let multiplier = words.multipliers[tokens[i + 1].text], multiplier > 100 {
                    value *= multiplier
                    i += 1
                }
                emit(value, ordinal: ordinal)
            case .word:
                if let (value, rest, ordinal) = Self.leadingDigits(token.text) {
                    emit(value, ordinal: ordinal)
                    if let rest { out.append(rest) }
                } else if let value = Self.worldWar(token.text) {
                    out += ["world", "war"]
                    emit(value, ordinal: true)
                } else if let value = romanNumeral(token, after: previous, previousToken: i > 0 ? tokens[i - 1] : nil, sentenceStart: i <= 1) {
                    emit(value, ordinal: true)
                } else if lastOrdinal, words.multipliers[token.text] != nil {
                    // `13-р зуун`, `XIII зуун`: a century, not a hundred.
                    out.append(token.text)
                    lastOrdinal = false
                } else if let (value, consumed, ordinal) = numberPhrase(tokens, from: i, after: previous) {
                    // NaN: a number word that is no number here (`A, B хоёр` is "A and B"), dropped.
                    if !value.isNaN { emit(value, ordinal: ordinal) }
                    i += consumed
                    continue
                } else if let power = Self.powerWords[token.text], previous.hasPrefix("#") || Self.isVariable(previous) {
                    // `x квадрат`, `3 куб`: squared and cubed, as `x squared` (not `квадрат тэгшитгэл`, a quadratic).
                    out += power
                    lastOrdinal = false
                } else {
                    out += Self.mathWords[token.text] ?? [token.text]
                    lastOrdinal = false
                }
            }
            i += 1
        }
        return out
    }

    /// `2nd`, `21st`, `5kg`, `3x`, `2р`: the number and what follows it (nil for an ordinal ending).
    static func leadingDigits(_ word: String) -> (Double, String?, Bool)? {
        let digits = word.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count < word.count, let value = Double(digits) else { return nil }
        let rest = String(word.dropFirst(digits.count))
        if ["st", "nd", "rd", "th"].contains(rest) || NumberWords.ordinalEndings.contains(rest) { return (value, nil, true) }
        return (value, rest == "х" ? "x" : rest, false)
    }

    /// `ww2`, `wwii`, `ww1`, `wwi`.
    static func worldWar(_ word: String) -> Double? {
        guard word.hasPrefix("ww"), word.count > 2 else { return nil }
        let rest = word.dropFirst(2)
        if let value = Double(rest), value.isFinite, value < 10 { return value }
        return ["i": 1, "ii": 2, "iii": 3][String(rest)]
    }

    /// A Roman numeral: two letters or more of I, V and X (`II`, `xiii`; `iv`, `vi` and `xi` only in
    /// capitals or after a word that takes numerals); with L, C, D or M, or a lone `I`, `V`, `X`, only
    /// after a word that takes numerals (`World War I`, `chapter v`) or, in capitals, after a name
    /// inside the sentence (`Henry VIII`, `Louis XIV`) — never the pronoun `I`.
    func romanNumeral(_ token: QuestionToken, after previous: String, previousToken: QuestionToken?, sentenceStart: Bool) -> Double? {
        guard let value = Self.roman(token.text) else { return nil }
        let afterContext = Self.numeralContexts.contains(previous)
        let afterName = !sentenceStart && previousToken.map { $0.kind == .word && $0.capitalized && !$0.upper } ?? false
        let onlyIVX = token.text.allSatisfy { "ivx".contains($0) }
        if token.text.count == 1 { return onlyIVX && (afterContext || token.upper && afterName) ? value : nil }
        if onlyIVX { return !["iv", "vi", "xi"].contains(token.text) || token.upper || afterContext ? value : nil }
        // `DC`, `CD`, `MIX`: words far more often than numerals.
        return token.upper && afterContext ? value : nil
    }

    /// The value of a well-formed Roman numeral in small letters, or nil.
    static func roman(_ text: String) -> Double? {
        let values: [Character: Int] = ["i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000]
        guard !text.isEmpty, text.count <= 8, text.allSatisfy({ values[$0] != nil }) else { return nil }
        var total = 0
        let digits = text.map { values[$0]! }
        for (index, digit) in digits.enumerated() {
            total += index + 1 < digits.count && digits[index + 1] > digit ? -digit : digit
        }
        // Only canonical spellings: `iiii` or `vx` are not numerals.
        return total > 0 && total < 4000 && Self.romanSpelling(total) == text ? Double(total) : nil
    }

    static func romanSpelling(_ value: Int) -> String {
        let table: [(Int, String)] = [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]
        var value = value
        var text = ""
        for (amount, letters) in table {
            while value >= amount {
                text += letters
                value -= amount
            }
        }
        return text
    }

    /// A number written in words from `tokens[start]`: its value, how many tokens it took, whether it
    /// is an ordinal. `twenty-five`, `one hundred and five`, `хоёр мянга`, `арван гуравдугаар`.
    func numberPhrase(_ tokens: [QuestionToken], from start: Int, after previous: String) -> (Double, Int, Bool)? {
        var total = 0.0
        var current = 0.0
        var index = start
        var read = false
        var afterMultiplier = false
        while index < tokens.count, tokens[index].kind == .word || tokens[index].text == "-" {
            let word = tokens[index].text
            // `twenty-five`; `and` only inside a number (`one hundred and five`, not `four and six`).
            if word == "-" || (word == "and" && afterMultiplier) {
                guard index + 1 < tokens.count, isNumberWord(tokens[index + 1].text) else { break }
                index += 1
                continue
            }
            if word == "one", !read, Self.pronounOne.contains(previous) || index + 1 < tokens.count && tokens[index + 1].text == "of" { return nil }
            // `A, B хоёр юугаараа ялгаатай вэ`: `хоёр` after two things is "the two", not a quantity.
            if word == "хоёр", !read, index + 1 < tokens.count, Self.theTwo.contains(where: { tokens[index + 1].text.hasPrefix($0) }) { return (.nan, 1, false) }
            if word == "second", !read, Self.timeSecond.contains(previous.hasPrefix("#") ? "#" : previous) { return nil }
            if let value = words.cardinals[word] {
                // Units join tens (`twenty five`); two numbers side by side (`four six`) are two numbers.
                let tens = current.truncatingRemainder(dividingBy: 100)
                guard current == 0 || tens == 0 || tens.truncatingRemainder(dividingBy: 10) == 0 && tens >= 10 && value < 10 else { break }
                current += value
                afterMultiplier = false
            } else if let value = words.multipliers[word] {
                afterMultiplier = true
                if value == 100 {
                    current = max(current, 1) * value
                } else {
                    total += max(current, 1) * value
                    current = 0
                }
            } else if let value = words.ordinal(word) {
                let tens = current.truncatingRemainder(dividingBy: 100)
                guard current == 0 || tens == 0 || tens >= 10 && value < 10 else { break }
                return (total + current + value, index - start + 1, true)
            } else {
                break
            }
            read = true
            index += 1
        }
        guard read else { return nil }
        // `хоёр дахь`: an ordinal written as two words.
        if index < tokens.count, ["дахь", "дэх", "дугаар", "дүгээр"].contains(tokens[index].text) { return (total + current, index - start + 1, true) }
        return (total + current, index - start, false)
    }

    func isNumberWord(_ word: String) -> Bool {
        words.cardinals[word] != nil || words.multipliers[word] != nil || words.ordinal(word) != nil
    }

    /// A value as the guard compares it: whole numbers without a point, others in full precision.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
