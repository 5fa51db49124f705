import Foundation
import Pipeline
import XCTest

final class CronScheduleTests: XCTestCase {
    private func date(_ text: String, zone: String = "UTC") throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        return try XCTUnwrap(formatter.date(from: text), text)
    }

    func testNightlyDefault() throws {
        let cron = try CronSchedule("0 3 * * *")
        XCTAssertEqual(cron.next(after: try date("2026-11-29T08:24:00")), try date("2026-11-30T03:00:00"))
        XCTAssertEqual(cron.next(after: try date("2026-11-29T02:59:00")), try date("2026-11-29T03:00:00"))
        XCTAssertEqual(cron.next(after: try date("2026-11-29T03:00:00")), try date("2026-11-30T03:00:00"), "strictly after")
    }

    func testStepsListsRangesAndWeekdays() throws {
        XCTAssertEqual(try CronSchedule("*/15 * * * *").next(after: try date("2026-11-29T08:16:30")), try date("2026-11-29T08:30:00"))
        // 2026-11-29 is a Sunday; weekdays only (1-5) at 09:30 and 17:30.
        let weekdays = try CronSchedule("30 9,17 * * 1-5")
        XCTAssertEqual(weekdays.next(after: try date("2026-11-29T10:00:00")), try date("2026-11-30T09:30:00"))
        XCTAssertEqual(weekdays.next(after: try date("2026-11-30T09:30:00")), try date("2026-11-30T17:30:00"))
        // Sunday as 7, and the first of the month: either day field matches.
        let either = try CronSchedule("0 0 1 * 7")
        XCTAssertEqual(either.next(after: try date("2026-11-29T10:00:00")), try date("2026-12-01T00:00:00"))
        XCTAssertEqual(either.next(after: try date("2026-12-01T00:00:00")), try date("2026-12-06T00:00:00"))
        XCTAssertEqual(try CronSchedule("0 12 29 2 *").next(after: try date("2026-03-01T00:00:00")), try date("2028-02-29T12:00:00"))
        XCTAssertNil(try CronSchedule("0 0 31 2 *").next(after: try date("2026-01-01T00:00:00")), "31 February never comes")
    }

    func testTimeZone() throws {
        let paris = try XCTUnwrap(TimeZone(identifier: "Europe/Paris"))
        let cron = try CronSchedule("0 3 * * *", timeZone: paris)
        XCTAssertEqual(cron.next(after: try date("2026-11-29T08:00:00")), try date("2026-11-30T02:00:00"), "03:00 in Paris is 02:00 UTC in winter")
    }

    func testBadExpressionsNameTheField() {
        for (expression, fragment) in [
            ("0 3 * *", "5 fields"), ("61 * * * *", "minute"), ("0 24 * * *", "hour"), ("0 0 0 * *", "day-of-month"),
            ("0 0 * 13 *", "month"), ("0 0 * * 8", "day-of-week"), ("*/0 * * * *", "step"), ("a * * * *", "not a number"),
            ("5-1 * * * *", "range"),
        ] {
            XCTAssertThrowsError(try CronSchedule(expression), expression) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(expression): \(error)")
            }
        }
    }
}
