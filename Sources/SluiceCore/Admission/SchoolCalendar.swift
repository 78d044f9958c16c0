public import Foundation

/// Exam periods and peak hours in a school's time zone, each switching a named mode on.
public struct SchoolCalendar: Sendable, Hashable {
    /// A date range, both ends included, in the calendar's time zone.
    public struct Period: Sendable, Hashable {
        /// First day, `yyyy-mm-dd`.
        public var first: String
        /// Last day, `yyyy-mm-dd`.
        public var last: String
        /// The mode it switches on.
        public var mode: String

        /// - Parameters:
        ///   - first: first day.
        ///   - last: last day.
        ///   - mode: the mode.
        public init(first: String, last: String, mode: String) {
            self.first = first
            self.last = last
            self.mode = mode
        }
    }

    /// Hours of some weekdays.
    public struct Hours: Sendable, Hashable {
        /// Weekdays, 1 = Monday … 7 = Sunday.
        public var weekdays: Set<Int>
        /// Start, minutes after midnight.
        public var start: Int
        /// End (excluded), minutes after midnight.
        public var end: Int
        /// The mode it switches on.
        public var mode: String

        /// - Parameters:
        ///   - weekdays: 1 = Monday … 7 = Sunday.
        ///   - start: minutes after midnight.
        ///   - end: minutes after midnight, excluded.
        ///   - mode: the mode.
        public init(weekdays: Set<Int>, start: Int, end: Int, mode: String) {
            self.weekdays = weekdays
            self.start = start
            self.end = end
            self.mode = mode
        }

        /// Parses `mon-fri 18:00-22:00` or `sat,sun 10:00-12:00`.
        public init?(_ text: String, mode: String) {
            let parts = text.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { return nil }
            let names = ["mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7]
            var days = Set<Int>()
            for piece in parts[0].lowercased().split(separator: ",") {
                let range = piece.split(separator: "-").map(String.init)
                guard let from = names[range[0]], let to = names[range.last!] else { return nil }
                if from <= to { days.formUnion(from...to) } else { days.formUnion(from...7); days.formUnion(1...to) }
            }
            let times = parts[1].split(separator: "-").map(String.init)
            guard times.count == 2, let start = Self.minutes(times[0]), let end = Self.minutes(times[1]) else { return nil }
            self.init(weekdays: days, start: start, end: end, mode: mode)
        }

        static func minutes(_ text: String) -> Int? {
            let hm = text.split(separator: ":").compactMap { Int($0) }
            guard hm.count == 2, (0...24).contains(hm[0]), (0..<60).contains(hm[1]) else { return nil }
            return hm[0] * 60 + hm[1]
        }
    }

    /// The time zone days and hours are read in (default UTC).
    public var timeZone: TimeZone {
        didSet { calendar.timeZone = timeZone }
    }
    private var calendar: Calendar
    /// Exam periods.
    public var periods: [Period]
    /// Peak hours.
    public var hours: [Hours]

    /// - Parameters:
    ///   - timeZone: the time zone.
    ///   - periods: exam periods.
    ///   - hours: peak hours.
    public init(timeZone: TimeZone = TimeZone(identifier: "UTC")!, periods: [Period] = [], hours: [Hours] = []) {
        self.timeZone = timeZone
        self.periods = periods
        self.hours = hours
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// `yyyy-mm-dd` of a moment in the calendar's time zone.
    public func day(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.year, 4) + "-" + pad(parts.month, 2) + "-" + pad(parts.day, 2)
    }

    /// The day containing a moment: its name and the moments it starts and ends.
    public func dayBounds(of date: Date) -> (day: String, start: Date, end: Date) {
        let start = calendar.startOfDay(for: date)
        return (day(of: date), start, calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86400))
    }

    /// The start of the next day in the calendar's time zone.
    public func nextDay(after date: Date) -> Date {
        let start = calendar.startOfDay(for: date)
        return calendar.date(byAdding: .day, value: 1, to: start) ?? date.addingTimeInterval(86400)
    }

    /// The exam period under way at `date`, or starting within `days` days of it, and the moment it ends
    /// (the start of the day after its last); nil when there is none.
    public func examPeriod(around date: Date, withinDays days: Int) -> (period: Period, end: Date)? {
        let today = day(of: date)
        let horizon = day(of: calendar.date(byAdding: .day, value: max(0, days), to: date) ?? date)
        guard let period = periods.filter({ $0.last >= today && $0.first <= horizon }).min(by: { $0.first < $1.first }) else { return nil }
        let parts = period.last.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3,
              let last = calendar.date(from: DateComponents(timeZone: timeZone, year: parts[0], month: parts[1], day: parts[2]))
        else { return nil }
        return (period, nextDay(after: last))
    }

    /// The mode the calendar sets at a moment: an exam period wins over peak hours; nil for none.
    public func mode(at date: Date) -> String? {
        if periods.isEmpty, hours.isEmpty { return nil }
        let today = day(of: date)
        if let period = periods.first(where: { $0.first <= today && today <= $0.last }) { return period.mode }
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        let weekday = ((parts.weekday ?? 1) + 5) % 7 + 1
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        return hours.first { $0.weekdays.contains(weekday) && $0.start <= minute && minute < $0.end }?.mode
    }
}
