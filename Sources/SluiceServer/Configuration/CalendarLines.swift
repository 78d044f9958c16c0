import Foundation

/// The school calendar's lines in the configuration, checked before they are used: exam periods
/// (`2026-12-14..2026-12-20`, or one day) and peak hours (`mon-fri 18:00-22:00`, `sat,sun 10:00-12:00`).
/// Each check says what is wrong with a line, or nil when it is right.
enum CalendarLines {
    /// Day names, Monday first.
    static let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// What is wrong with an exam period, or nil.
    static func periodProblem(_ text: String) -> String? {
        let ends = dayRange(text)
        guard ends.count <= 2 else { return "is not a day (2026-12-14) or a range of days (2026-12-14..2026-12-20)" }
        for day in ends where !isDay(day) {
            return "has \(ConfigurationProblem.quoted(day)), which is not a day written year-month-day, like 2026-12-14"
        }
        if ends.count == 2, ends[0] > ends[1] { return "ends before it starts" }
        return nil
    }

    /// The first and last day of a period's text (one element for a single day).
    static func dayRange(_ text: String) -> [String] {
        text.components(separatedBy: "..").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// What is wrong with a line of peak hours, or nil.
    static func hoursProblem(_ text: String) -> String? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 2 else { return "is not days and hours, like mon-fri 18:00-22:00" }
        for piece in parts[0].lowercased().split(separator: ",", omittingEmptySubsequences: false) {
            let range = piece.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard (1...2).contains(range.count) else {
                return "has \(ConfigurationProblem.quoted(String(piece))), which is not a day or a range of days, like mon-fri"
            }
            for day in range where !days.contains(day) {
                return "has \(ConfigurationProblem.quoted(day)), which is not a day (\(days.joined(separator: ", ")))"
            }
        }
        let times = parts[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard times.count == 2 else { return "has \(ConfigurationProblem.quoted(parts[1])), which is not a time range, like 18:00-22:00" }
        guard let start = minutes(times[0]), let end = minutes(times[1]) else {
            let bad = minutes(times[0]) == nil ? times[0] : times[1]
            return "has \(ConfigurationProblem.quoted(bad)), which is not a time from 00:00 to 24:00"
        }
        guard start < end else {
            return "ends before it starts (for hours past midnight write two lines, e.g. mon 22:00-24:00 and tue 00:00-02:00)"
        }
        return nil
    }

    /// Minutes after midnight of `HH:MM` (00:00 to 24:00), or nil.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy(\.isPlainDigit) }),
              let hour = Int(parts[0]), let minute = Int(parts[1]),
              (0...24).contains(hour), (0..<60).contains(minute), hour < 24 || minute == 0
        else { return nil }
        return hour * 60 + minute
    }

    /// Whether the text is a real day written `yyyy-mm-dd`.
    static func isDay(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.map(\.count) == [4, 2, 2], parts.allSatisfy({ $0.allSatisfy(\.isPlainDigit) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return (1...lengths[month - 1]).contains(day)
    }
}

extension Character {
    /// 0 to 9 (not other scripts' digits).
    fileprivate var isPlainDigit: Bool { ("0"..."9").contains(self) }
}
