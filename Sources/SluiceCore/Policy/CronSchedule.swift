public import Foundation

/// A standard five-field cron expression, "minute hour day-of-month month day-of-week", with Vixie
/// cron's rules.
///
/// Each field takes `*`, numbers, ranges `a-b`, lists `a,b,c` and steps `*/n`, `a-b/n`, `a/n` (from `a`
/// to the field's end). Months take JAN–DEC and days of the week SUN–SAT, in any case; day of the week
/// 0 and 7 are both Sunday. The macros `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
/// `@yearly` and `@annually` stand for the usual expressions.
///
/// When day-of-month and day-of-week are both restricted, a day matches when either does; when one
/// starts with `*` (`*/2` too, as in Vixie cron), both must match.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    /// Why an expression was refused, naming the field and the bad part.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        /// The reason in plain English, e.g. `hour: 25 is outside 0–23`.
        public let reason: String

        init(_ reason: String) {
            self.reason = reason
        }

        /// The reason.
        public var description: String { reason }
    }

    private let expression: String
    private let minutes: UInt64
    private let hours: UInt64
    private let daysOfMonth: UInt64
    private let months: UInt64
    private let daysOfWeek: UInt64
    private let dayOfMonthIsStar: Bool
    private let dayOfWeekIsStar: Bool
    /// Whether the minute or hour field starts with `*`. Like Vixie cron, only such schedules fire again
    /// in the hour a clock set back repeats; fixed-time ones fire once.
    private let firesInRepeatedHour: Bool

    /// The longest expression accepted, in characters.
    public static let maximumLength = 200

    /// Parses an expression.
    /// - Parameter expression: five fields separated by spaces, or one of the `@` macros.
    /// - Throws: a `Problem` naming the field and the part that is wrong.
    public init(_ expression: String) throws(Problem) {
        let length = expression.count
        guard length <= Self.maximumLength else {
            throw Problem("the expression is \(length) characters long; at most \(Self.maximumLength) are allowed")
        }
        var fields = expression.split(whereSeparator: \.isWhitespace)
        if let first = fields.first, first.hasPrefix("@") {
            guard let expansion = Self.macros[first.lowercased()] else {
                throw Problem("unknown macro \"\(first)\"; expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually")
            }
            guard fields.count == 1 else {
                throw Problem("\(first) stands alone, but \(fields.count - 1) more field(s) follow it")
            }
            fields = expansion.split(whereSeparator: \.isWhitespace)
        }
        guard !fields.isEmpty else {
            throw Problem("the expression is empty; expected 5 fields (minute hour day-of-month month day-of-week)")
        }
        guard fields.count == 5 else {
            throw Problem("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        self.expression = expression
        minutes = try Field.minute.parse(fields[0])
        hours = try Field.hour.parse(fields[1])
        daysOfMonth = try Field.dayOfMonth.parse(fields[2])
        months = try Field.month.parse(fields[3])
        let weekdays = try Field.dayOfWeek.parse(fields[4])
        // 7 is Sunday as well as 0.
        daysOfWeek = weekdays & (1 << 7) == 0 ? weekdays : (weekdays & ~(1 << 7)) | 1
        dayOfMonthIsStar = fields[2].hasPrefix("*")
        dayOfWeekIsStar = fields[4].hasPrefix("*")
        firesInRepeatedHour = fields[0].hasPrefix("*") || fields[1].hasPrefix("*")
    }

    /// The expression as it was given.
    public var description: String { expression }

    /// The first whole minute strictly after `date` whose wall-clock time in `timeZone` matches, or nil
    /// when none does within five years (e.g. `0 0 30 2 *`).
    ///
    /// A wall-clock time that a daylight-saving change skips does not exist and is passed over. In the
    /// hour a change repeats, a schedule whose minute or hour field starts with `*` fires in both passes;
    /// one with a fixed minute and hour fires only in the first.
    /// - Parameters:
    ///   - date: the instant to search after.
    ///   - timeZone: the zone whose wall clock the fields describe.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, seconds >= Self.earliestSecond, seconds < Self.latestSecond else { return nil }
        let start = Int(seconds.rounded(.down))
        let limit = start + Self.searchSpan
        // Walk the stretches of constant UTC offset; within one, wall clock and instant move together.
        var segmentStart = start
        var offset = timeZone.secondsFromGMT(for: date)
        var lowest = Self.floorMinute(start + offset) + 60
        if !firesInRepeatedHour, let repeated = Self.endOfRepeatedWallClock(before: start, in: timeZone) {
            lowest = max(lowest, repeated)
        }
        for _ in 0..<Self.maximumSegments {
            let upcoming = Self.transition(after: segmentStart, in: timeZone)
            let end = min(upcoming ?? limit, limit)
            if let wall = firstMatch(from: lowest, before: end + offset) {
                return Date(timeIntervalSince1970: TimeInterval(wall - offset))
            }
            guard let transition = upcoming, transition < limit else { return nil }
            let previous = offset
            offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(transition)))
            // Wall-clock times between the old and new offset never happen when the clock jumps forward.
            lowest = Self.ceilingMinute(transition + offset)
            if !firesInRepeatedHour && previous > offset {
                lowest = max(lowest, Self.ceilingMinute(transition + previous))
            }
            segmentStart = transition
        }
        return nil
    }

    // MARK: - Search

    /// The first matching wall-clock minute in [lowest, bound), as seconds since 1970 read on the wall clock.
    private func firstMatch(from lowest: Int, before bound: Int) -> Int? {
        guard lowest < bound else { return nil }
        let startDay = Self.floorDivide(lowest, 86_400)
        let secondOfDay = lowest - startDay * 86_400
        var (year, month, day) = CivilDate.from(days: startDay)
        var hour = secondOfDay / 3_600
        var minute = secondOfDay % 3_600 / 60
        // Every pass moves strictly forward, and `bound` is finite, so this ends.
        while true {
            let dayNumber = Self.days(year: year, month: month, day: day)
            guard dayNumber * 86_400 + hour * 3_600 + minute * 60 < bound else { return nil }
            if !Self.contains(months, month) || day > Self.daysIn(month: month, year: year) {
                if month == 12 {
                    year += 1
                    month = 1
                } else {
                    month += 1
                }
                day = 1
                hour = 0
                minute = 0
                continue
            }
            guard matchesDay(day, weekday: Self.weekday(days: dayNumber)),
                  let nextHour = Self.first(in: hours, from: hour)
            else {
                day += 1
                hour = 0
                minute = 0
                continue
            }
            if nextHour != hour {
                hour = nextHour
                minute = 0
            }
            guard let nextMinute = Self.first(in: minutes, from: minute) else {
                hour += 1
                minute = 0
                if hour == 24 {
                    day += 1
                    hour = 0
                }
                continue
            }
            let wall = dayNumber * 86_400 + hour * 3_600 + nextMinute * 60
            return wall < bound ? wall : nil
        }
    }

    /// Vixie cron's day rule: either field when both are restricted, otherwise both.
    private func matchesDay(_ day: Int, weekday: Int) -> Bool {
        let byDate = Self.contains(daysOfMonth, day)
        let byWeekday = Self.contains(daysOfWeek, weekday)
        return (dayOfMonthIsStar || dayOfWeekIsStar) ? (byDate && byWeekday) : (byDate || byWeekday)
    }

    /// 0001-01-01 and 9999-12-31 23:59:59 UTC: outside these the search gives up.
    private static let earliestSecond: TimeInterval = -62_135_596_800
    private static let latestSecond: TimeInterval = 253_402_300_799
    /// Five years of 366 days.
    private static let searchSpan = 5 * 366 * 86_400
    /// More offset changes than any zone has in five years.
    private static let maximumSegments = 512

    /// The next offset change strictly after `instant`, in whole seconds since 1970.
    private static func transition(after instant: Int, in timeZone: TimeZone) -> Int? {
        guard let next = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(instant)))
        else { return nil }
        let seconds = next.timeIntervalSince1970.rounded(.up)
        guard seconds.isFinite, seconds > TimeInterval(instant), seconds < latestSecond else { return nil }
        return Int(seconds)
    }

    /// When `instant` lies in wall-clock time that a recent change set back (so it already happened
    /// once), the first wall-clock minute that is new.
    private static func endOfRepeatedWallClock(before instant: Int, in timeZone: TimeZone) -> Int? {
        var probe = instant - 86_400
        var end: Int?
        for _ in 0..<4 {
            guard let change = transition(after: probe, in: timeZone), change <= instant else { break }
            let before = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(change - 1)))
            let after = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(change)))
            if before > after { end = ceilingMinute(change + before) }
            probe = change
        }
        return end
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, on wall-clock seconds)

    private static func contains(_ set: UInt64, _ value: Int) -> Bool {
        set & (UInt64(1) << UInt64(value)) != 0
    }

    /// The smallest member of `set` at or above `start`.
    private static func first(in set: UInt64, from start: Int) -> Int? {
        let remaining = set & (UInt64.max << UInt64(start))
        return remaining == 0 ? nil : remaining.trailingZeroBitCount
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> Int {
        value >= 0 ? value / divisor : -((-value - 1) / divisor) - 1
    }

    private static func floorMinute(_ seconds: Int) -> Int {
        floorDivide(seconds, 60) * 60
    }

    private static func ceilingMinute(_ seconds: Int) -> Int {
        floorMinute(seconds + 59)
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`); a day past the month's end runs on.
    private static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// 0 is Sunday; 1970-01-01 was a Thursday.
    private static func weekday(days: Int) -> Int {
        (days % 7 + 11) % 7
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: - Parsing

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// One field's name, bounds and names, and how to read it into a bit set.
    private struct Field: Sendable {
        let name: String
        let bounds: ClosedRange<Int>
        let names: [String: Int]
        /// What else a value may be, for the error message.
        let alternative: String

        static let minute = Field(name: "minute", bounds: 0...59, names: [:], alternative: "")
        static let hour = Field(name: "hour", bounds: 0...23, names: [:], alternative: "")
        static let dayOfMonth = Field(name: "day-of-month", bounds: 1...31, names: [:], alternative: "")
        static let month = Field(
            name: "month", bounds: 1...12,
            names: Dictionary(
                uniqueKeysWithValues: zip(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1...)
            ),
            alternative: " or a month name (JAN–DEC)"
        )
        static let dayOfWeek = Field(
            name: "day-of-week", bounds: 0...7,
            names: Dictionary(uniqueKeysWithValues: zip(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 0...)),
            alternative: " or a day name (SUN–SAT)"
        )

        func problem(_ reason: String) -> Problem {
            Problem("\(name): \(reason)")
        }

        /// The values `text` selects, as bits.
        func parse(_ text: Substring) throws(Problem) -> UInt64 {
            var bits: UInt64 = 0
            for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard !item.isEmpty else { throw problem("empty item in \"\(text)\"") }
                let parts = item.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count <= 2 else { throw problem("\"\(item)\" has more than one \"/\"") }
                var step = 1
                if parts.count == 2 {
                    let stepText = parts[1]
                    guard !stepText.isEmpty else { throw problem("\"\(item)\" has no step after \"/\"") }
                    guard Self.isDigits(stepText) else { throw problem("step \"\(stepText)\" is not a number") }
                    let number = Int(stepText) ?? Int.max
                    guard number > 0 else { throw problem("step 0 is not allowed") }
                    // Any step past the field's span selects only the start; capping it keeps the sums small.
                    step = min(number, 64)
                }
                let base = parts[0]
                let low: Int
                let high: Int
                let ends = base.split(separator: "-", omittingEmptySubsequences: false)
                if base.isEmpty {
                    throw problem("\"\(item)\" has nothing before \"/\"")
                } else if base == "*" {
                    low = bounds.lowerBound
                    high = bounds.upperBound
                } else if ends.count > 1 {
                    guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty else {
                        throw problem("\"\(base)\" is not a range (write a-b)")
                    }
                    low = try value(ends[0])
                    high = try value(ends[1])
                    guard low <= high else { throw problem("range \(base) is reversed (the start is after the end)") }
                } else {
                    low = try value(base)
                    high = parts.count == 2 ? bounds.upperBound : low
                }
                var member = low
                while member <= high {
                    bits |= UInt64(1) << UInt64(member)
                    member += step
                }
            }
            return bits
        }

        /// One number or name, checked against the bounds.
        func value(_ text: Substring) throws(Problem) -> Int {
            let number: Int
            if Self.isDigits(text) {
                number = Int(text) ?? Int.max
            } else if let named = names[text.uppercased()] {
                number = named
            } else {
                throw problem("\"\(text)\" is not a number\(alternative)")
            }
            guard bounds.contains(number) else {
                throw problem("\(text) is outside \(bounds.lowerBound)–\(bounds.upperBound)")
            }
            return number
        }

        static func isDigits(_ text: Substring) -> Bool {
            !text.isEmpty && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
    }
}
