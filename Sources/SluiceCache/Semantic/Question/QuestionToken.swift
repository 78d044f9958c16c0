/// One piece of a question as typed: a word (letters, possibly with digits, like `co2`), a number
/// (digits with an optional decimal part), or a symbol that carries meaning in a question (`^ + - = * / √ ² ³ %`).
struct QuestionToken: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case word
        case number
        case symbol
    }

    var kind: Kind
    /// Lower-cased text.
    var text: String
    /// Written in capitals (`II`, `WWII`), which tells a Roman numeral from the word `i`.
    var upper = false
    /// Written with a capital first letter (`War`, `Henry`).
    var capitalized = false

    static let symbols: Set<Character> = ["^", "+", "-", "−", "=", "*", "×", "·", "/", "÷", "√", "%", "<", ">", "→", "ⁿ", "°", "(", ")"]
    static let superscripts: [Character: Character] = ["⁻": "-", "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9"]

    /// Splits a text into tokens. A word keeps inner apostrophes (`doesn't`); a number keeps one decimal
    /// point or comma between digits (`3.14`, `1,5`), drops a thousands separator (`5,000`); everything
    /// else separates.
    static func split(_ text: String) -> [QuestionToken] {
        var tokens: [QuestionToken] = []
        var current = ""
        var currentIsNumber = true
        func flush() {
            guard !current.isEmpty else { return }
            let lower = current.lowercased()
            let letters = current.filter(\.isLetter)
            tokens.append(QuestionToken(
                kind: currentIsNumber ? .number : .word, text: lower,
                upper: !letters.isEmpty && letters.allSatisfy(\.isUppercase),
                capitalized: current.first?.isUppercase ?? false))
            current = ""
            currentIsNumber = true
        }
        let characters = Array(text)
        var inSuperscript = false
        for (index, character) in characters.enumerated() {
            // Superscript digits are an exponent: `2¹⁰` is `2 ^ 10`.
            if let digit = superscripts[character] {
                if !inSuperscript {
                    flush()
                    tokens.append(QuestionToken(kind: .symbol, text: "^"))
                    inSuperscript = true
                }
                current.append(digit)
                continue
            } else if inSuperscript {
                flush()
                inSuperscript = false
            }
            // A vulgar fraction (`½`, `⅓`) is its value.
            if character.isNumber, character.wholeNumberValue == nil, let scalar = character.unicodeScalars.first,
               let value = scalar.properties.numericValue
            {
                flush()
                tokens.append(QuestionToken(kind: .number, text: String(value)))
                continue
            }
            if !symbols.contains(character) && (character.isLetter || character.isNumber) {
                if character.isLetter { currentIsNumber = false }
                // Any script's digits (`３`, `٣`) are digits.
                if let digit = character.wholeNumberValue, !character.isASCII { current += String(digit) } else { current.append(character) }
            } else if character == ",", currentIsNumber, !current.isEmpty, index + 3 < characters.count,
                      characters[(index + 1)...(index + 3)].allSatisfy(\.isNumber), index + 4 == characters.count || !characters[index + 4].isNumber
            {
                // `5,000`: a thousands separator.
                continue
            } else if (character == "." || character == ",") && currentIsNumber && !current.isEmpty,
                      index + 1 < characters.count, characters[index + 1].isNumber
            {
                // A second point (`12.04.1961`) starts another number.
                if current.contains(".") { flush() } else { current.append(".") }
            } else if (character == "'" || character == "’") && !current.isEmpty && !currentIsNumber,
                      index + 1 < characters.count, characters[index + 1].isLetter
            {
                current.append("'")
            } else {
                flush()
                if symbols.contains(character) { tokens.append(QuestionToken(kind: .symbol, text: String(character))) }
            }
        }
        flush()
        return tokens
    }
}
