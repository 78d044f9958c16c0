import Foundation
import SluiceCore
import Testing

@Suite struct CronScheduleTests {
    @Test func weekdayAfternoonsSkipTheWeekendInUlaanbaatar() throws {
        let schedule = try CronSchedule("0 14 * * 1-5")
        let ulaanbaatar = try timeZone("Asia/Ulaanbaatar")
        let friday = try moment(2026, 12, 4, 15, 0, in: ulaanbaatar)
        let monday = try moment(2026, 12, 7, 14, 0, in: ulaanbaatar)
        let mondayInUTC = try moment(2026, 12, 7, 6, 0, in: utc())
        #expect(schedule.next(after: friday, in: ulaanbaatar) == monday)
        #expect(monday == mondayInUTC, "14:00 in Ulaanbaatar is 06:00 UTC")

        let justBefore = try moment(2026, 12, 7, 13, 59, 30, in: ulaanbaatar)
        #expect(schedule.next(after: justBefore, in: ulaanbaatar) == monday)

        let tuesday = try moment(2026, 12, 8, 14, 0, in: ulaanbaatar)
        #expect(schedule.next(after: monday, in: ulaanbaatar) == tuesday, "strictly after: 14:00:00 itself is not next")
        let fridayAtTwo = try moment(2026, 12, 4, 14, 0, in: ulaanbaatar)
        #expect(schedule.next(after: fridayAtTwo, in: ulaanbaatar) == monday)
    }

    @Test func everyQuarterHour() throws {
        let zone = try timeZone("Asia/Ulaanbaatar")
        let cases = try [
            (moment(2026, 5, 20, 10, 7, in: zone), moment(2026, 5, 20, 10, 15, in: zone)),
            (moment(2026, 5, 20, 10, 45, in: zone), moment(2026, 5, 20, 11, 0, in: zone)),
            (moment(2026, 12, 31, 23, 50, in: zone), moment(2027, 1, 1, 0, 0, in: zone)),
        ]
        for (start, expected) in cases {
            let got = try next("*/15 * * * *", after: start, in: zone)
            #expect(got == expected)
        }
    }

    @Test func firstOfTheMonthAndMacros() throws {
        let zone = try timeZone("Asia/Ulaanbaatar")
        let cases: [(String, Date, Date)] = try [
            ("0 0 1 * *", moment(2026, 1, 31, 12, 0, in: zone), moment(2026, 2, 1, in: zone)),
            ("0 0 1 * *", moment(2026, 12, 15, in: zone), moment(2027, 1, 1, in: zone)),
            ("@yearly", moment(2026, 6, 15, 12, 0, in: zone), moment(2027, 1, 1, in: zone)),
            ("@ANNUALLY", moment(2026, 6, 15, 12, 0, in: zone), moment(2027, 1, 1, in: zone)),
            ("@monthly", moment(2026, 6, 15, 12, 0, in: zone), moment(2026, 7, 1, in: zone)),
            ("@daily", moment(2026, 6, 15, 12, 0, in: zone), moment(2026, 6, 16, in: zone)),
            ("@midnight", moment(2026, 6, 15, 12, 0, in: zone), moment(2026, 6, 16, in: zone)),
            ("@hourly", moment(2026, 6, 15, 12, 0, in: zone), moment(2026, 6, 15, 13, 0, in: zone)),
            // 2026-06-15 is a Monday; @weekly is Sunday midnight.
            ("@weekly", moment(2026, 6, 15, 12, 0, in: zone), moment(2026, 6, 21, in: zone)),
        ]
        for (expression, start, expected) in cases {
            let got = try next(expression, after: start, in: zone)
            #expect(got == expected, "\(expression)")
        }
    }

    @Test func descriptionIsTheOriginalText() throws {
        let yearly = try CronSchedule("@yearly")
        #expect(yearly.description == "@yearly")
        let spaced = try CronSchedule(" 0 14  * * 1-5")
        #expect(spaced.description == " 0 14  * * 1-5")
    }

    @Test func leapDayIsFoundTwoYearsAheadAndAnImpossibleDayIsNil() throws {
        let zone = try timeZone("Asia/Ulaanbaatar")
        let march = try moment(2026, 3, 1, in: zone)
        let leapDay = try moment(2028, 2, 29, in: zone)
        #expect(try next("0 0 29 2 *", after: march, in: zone) == leapDay)
        let never = try next("0 0 30 2 *", after: march, in: zone)
        #expect(never == nil)
        let neverEither = try next("0 0 31 4,6,9,11 *", after: march, in: zone)
        #expect(neverEither == nil)
    }

    @Test func restrictedDayOfMonthAndDayOfWeekMatchEither() throws {
        let schedule = try CronSchedule("0 9 13 * 5")
        let zone = try timeZone("Asia/Ulaanbaatar")
        // September 2026: Fridays are the 4th, 11th, 18th and 25th; the 13th is a Sunday.
        let september = try moment(2026, 9, 1, in: zone)
        var cursor = september
        var seen: [Date] = []
        for _ in 0..<4 {
            let found = try #require(schedule.next(after: cursor, in: zone))
            seen.append(found)
            cursor = found
        }
        let expected = try [
            moment(2026, 9, 4, 9, 0, in: zone), moment(2026, 9, 11, 9, 0, in: zone),
            moment(2026, 9, 13, 9, 0, in: zone), moment(2026, 9, 18, 9, 0, in: zone),
        ]
        #expect(seen == expected)
        // Friday the 6th of November matches by weekday alone.
        let november = try moment(2026, 11, 5, in: zone)
        let fridaySixth = try moment(2026, 11, 6, 9, 0, in: zone)
        #expect(schedule.next(after: november, in: zone) == fridaySixth)

        // With day-of-week `*`, only the 13th.
        let sundayThirteenth = try moment(2026, 9, 13, 9, 0, in: zone)
        #expect(try next("0 9 13 * *", after: september, in: zone) == sundayThirteenth)
        // A day-of-month starting with `*` counts as unrestricted (Vixie cron): odd days that are Fridays.
        let fridayEleventh = try moment(2026, 9, 11, 9, 0, in: zone)
        #expect(try next("0 9 */2 * 5", after: september, in: zone) == fridayEleventh)
    }

    @Test func monthAndDayNamesAnyCase() throws {
        let named = try CronSchedule("30 6 * jan,FEB mon-fri")
        let numbered = try CronSchedule("30 6 * 1,2 1-5")
        let zone = try timeZone("Asia/Ulaanbaatar")
        // Friday 30 January 2026 after 06:30: the next weekday is Monday 2 February.
        let lateJanuary = try moment(2026, 1, 30, 7, 0, in: zone)
        let earlyFebruary = try moment(2026, 2, 2, 6, 30, in: zone)
        #expect(named.next(after: lateJanuary, in: zone) == earlyFebruary)
        // Friday 27 February after 06:30: nothing until Friday 1 January 2027.
        let lateFebruary = try moment(2026, 2, 27, 7, 0, in: zone)
        let nextJanuary = try moment(2027, 1, 1, 6, 30, in: zone)
        #expect(named.next(after: lateFebruary, in: zone) == nextJanuary)
        #expect(numbered.next(after: lateFebruary, in: zone) == nextJanuary)
        #expect(named != numbered, "equality follows the text")

        // 7 and SUN are Sunday as well as 0; 2026-09-13 is a Sunday.
        let thursday = try moment(2026, 9, 10, in: zone)
        let sunday = try moment(2026, 9, 13, 12, 0, in: zone)
        for expression in ["0 12 * * 0", "0 12 * * 7", "0 12 * * sun", "0 12 * * Sun"] {
            #expect(try next(expression, after: thursday, in: zone) == sunday, "\(expression)")
        }
    }

    @Test func aSkippedWallClockTimeIsPassedOver() throws {
        let newYork = try timeZone("America/New_York")
        // 2026-03-08: clocks go from 02:00 to 03:00, so 02:30 does not exist that day.
        let start = try moment(2026, 3, 8, in: newYork)
        let maybe = try next("30 2 * * *", after: start, in: newYork)
        let found = try #require(maybe)
        #expect(found > start)
        let wall = calendar(in: newYork).dateComponents([.year, .month, .day, .hour, .minute], from: found)
        #expect(wall.hour == 2 && wall.minute == 30)
        #expect(wall.month == 3 && wall.day == 9)
        let nextDay = try moment(2026, 3, 9, 2, 30, in: newYork)
        #expect(found == nextDay)

        // A wildcard schedule resumes at 03:00 EDT (07:00 UTC) right after the jump.
        let gmt = try utc()
        let beforeJump = try moment(2026, 3, 8, 6, 45, in: gmt)
        let afterJump = try moment(2026, 3, 8, 7, 0, in: gmt)
        #expect(try next("*/30 * * * *", after: beforeJump, in: newYork) == afterJump)
    }

    @Test func aRepeatedHourFiresFixedTimesOnceAndWildcardsInBothPasses() throws {
        let newYork = try timeZone("America/New_York")
        let gmt = try utc()
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST at 06:00 UTC.
        let midnight = try moment(2026, 11, 1, 4, 0, in: gmt)
        let firstPass = try moment(2026, 11, 1, 5, 45, in: gmt)
        let secondPass = try moment(2026, 11, 1, 6, 10, in: gmt)
        let cases: [(String, Date, Date)] = try [
            ("30 1 * * *", midnight, moment(2026, 11, 1, 5, 30, in: gmt)),
            ("30 1 * * *", firstPass, moment(2026, 11, 2, 6, 30, in: gmt)),
            ("30 1 * * *", secondPass, moment(2026, 11, 2, 6, 30, in: gmt)),
            ("*/30 * * * *", firstPass, moment(2026, 11, 1, 6, 0, in: gmt)),
            ("*/30 * * * *", secondPass, moment(2026, 11, 1, 6, 30, in: gmt)),
        ]
        for (expression, start, expected) in cases {
            let got = try next(expression, after: start, in: newYork)
            #expect(got == expected, "\(expression) after \(start)")
        }
    }

    @Test(arguments: ["", "   ", "* * * *", "* * * * * *"])
    func refusesTheWrongNumberOfFields(_ expression: String) {
        let problem = #expect(throws: CronSchedule.Problem.self) { try CronSchedule(expression) }
        #expect(problem?.description.contains("fields") == true, "\(String(describing: problem))")
    }

    @Test(arguments: [
        ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day-of-month"), ("* * * 13 *", "month"),
        ("* * * * 8", "day-of-week"), ("5-2 * * * *", "minute"), ("*/0 * * * *", "minute"), ("a * * * *", "minute"),
        ("1,,2 * * * *", "minute"), ("1-2-3 * * * *", "minute"), ("-1 * * * *", "minute"), ("* * * foo *", "month"),
        ("* * * * fri-mon", "day-of-week"), ("*/ * * * *", "minute"), ("/5 * * * *", "minute"), ("1/2/3 * * * *", "minute"),
        ("* 99999999999999999999999 * * *", "hour"),
    ] as [(String, String)])
    func refusesABadField(_ expression: String, _ field: String) {
        let problem = #expect(throws: CronSchedule.Problem.self) { try CronSchedule(expression) }
        #expect(problem?.description.hasPrefix("\(field): ") == true, "\(expression): \(String(describing: problem))")
    }

    @Test func problemsSayExactlyWhatIsWrong() {
        let cases: [(String, String)] = [
            ("* 25 * * *", "hour: 25 is outside 0–23"),
            ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
            ("*/0 * * * *", "minute: step 0 is not allowed"),
            ("5-2 * * * *", "minute: range 5-2 is reversed (the start is after the end)"),
            ("1,,2 * * * *", "minute: empty item in \"1,,2\""),
            ("* * * * xyz", "day-of-week: \"xyz\" is not a number or a day name (SUN–SAT)"),
        ]
        for (expression, reason) in cases {
            let problem = #expect(throws: CronSchedule.Problem.self) { try CronSchedule(expression) }
            #expect(problem?.description == reason)
        }
        let unknown = #expect(throws: CronSchedule.Problem.self) { try CronSchedule("@reboot") }
        #expect(unknown?.description.contains("@reboot") == true)
        #expect(throws: CronSchedule.Problem.self) { try CronSchedule("@daily 5") }
    }

    @Test func refusesExpressionsOverTwoHundredCharacters() throws {
        let long = "0" + String(repeating: " ", count: 196) + "* * * *"
        #expect(long.count == 204)
        let problem = #expect(throws: CronSchedule.Problem.self) { try CronSchedule(long) }
        #expect(problem?.description.contains("200") == true)
        let justFits = "0" + String(repeating: " ", count: 192) + "* * * *"
        #expect(justFits.count == 200)
        let fits = try CronSchedule(justFits)
        #expect(fits.description == justFits)
    }
}

private func timeZone(_ identifier: String) throws -> TimeZone {
    try #require(TimeZone(identifier: identifier))
}

private func utc() throws -> TimeZone {
    try #require(TimeZone(secondsFromGMT: 0))
}

private func next(_ expression: String, after start: Date, in zone: TimeZone) throws -> Date? {
    try CronSchedule(expression).next(after: start, in: zone)
}

private func calendar(in zone: TimeZone) -> Calendar {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = zone
    return calendar
}

/// A wall-clock moment in `zone`.
private func moment(
    _ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0, in zone: TimeZone
) throws -> Date {
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return try #require(calendar(in: zone).date(from: components))
}
