import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), as in
/// crontab(5): `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`; day of week 0-7
/// with 0 and 7 both Sunday. When both day fields are restricted a day matching either runs,
/// as in cron. Times are wall-clock times in `timeZone`.
package struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    package let expression: String
    package let timeZone: TimeZone
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    package var description: String { "\(expression) (\(timeZone.identifier))" }

    /// Parses `expression`; throws ``CronError`` naming the field that is wrong.
    package init(_ expression: String, timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current) throws {
        let fields = expression.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5 else {
            throw CronError(expression: expression, problem: "needs 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        func parse(_ index: Int, _ name: String, _ range: ClosedRange<Int>) throws -> Set<Int> {
            do { return try Self.values(of: fields[index], in: range) } catch let problem as CronFieldProblem {
                throw CronError(expression: expression, problem: "\(name) field '\(fields[index])': \(problem.text)")
            }
        }
        self.expression = expression
        self.timeZone = timeZone
        minutes = try parse(0, "minute", 0...59)
        hours = try parse(1, "hour", 0...23)
        daysOfMonth = try parse(2, "day-of-month", 1...31)
        months = try parse(3, "month", 1...12)
        daysOfWeek = Set(try parse(4, "day-of-week", 0...7).map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    /// The first matching minute strictly after `date` (nil if none within eight years, which
    /// only an impossible date such as 31 February gives).
    package func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard var candidate = calendar.date(byAdding: .minute, value: 1, to: date),
              let start = calendar.dateInterval(of: .minute, for: candidate)?.start else { return nil }
        candidate = start
        let limit = date.addingTimeInterval(8 * 366 * 86_400)
        while candidate < limit {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: candidate)
            guard let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute, let weekday = c.weekday else { return nil }
            if !months.contains(month) {
                guard let next = calendar.date(byAdding: .month, value: 1, to: candidate),
                      let first = calendar.dateInterval(of: .month, for: next)?.start else { return nil }
                candidate = first
            } else if !dayMatches(day: day, weekday: weekday - 1) {
                guard let next = calendar.date(byAdding: .day, value: 1, to: candidate) else { return nil }
                candidate = calendar.startOfDay(for: next)
            } else if !hours.contains(hour) {
                guard let next = calendar.date(byAdding: .hour, value: 1, to: candidate),
                      let top = calendar.dateInterval(of: .hour, for: next)?.start else { return nil }
                candidate = top
            } else if !minutes.contains(minute) {
                guard let next = calendar.date(byAdding: .minute, value: 1, to: candidate) else { return nil }
                candidate = next
            } else {
                return candidate
            }
        }
        return nil
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return daysOfMonth.contains(day) || daysOfWeek.contains(weekday)
        case (true, false): return daysOfMonth.contains(day)
        case (false, true): return daysOfWeek.contains(weekday)
        case (false, false): return true
        }
    }

    private static func values(of field: String, in range: ClosedRange<Int>) throws -> Set<Int> {
        var out = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw CronFieldProblem(text: "more than one '/' in '\(part)'") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw CronFieldProblem(text: "step '\(pieces[1])' is not a positive number") }
                step = s
            }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let lo = Int(pieces[0][..<dash]), let hi = Int(pieces[0][pieces[0].index(after: dash)...]), lo <= hi else {
                    throw CronFieldProblem(text: "'\(pieces[0])' is not a range low-high")
                }
                span = lo...hi
            } else {
                guard let value = Int(pieces[0]) else { throw CronFieldProblem(text: "'\(pieces[0])' is not a number") }
                span = value...(pieces.count == 2 ? range.upperBound : value)
            }
            guard range.contains(span.lowerBound), range.contains(span.upperBound) else {
                throw CronFieldProblem(text: "\(span.lowerBound)-\(span.upperBound) is outside \(range.lowerBound)-\(range.upperBound)")
            }
            out.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return out
    }
}

/// A cron expression that cannot be parsed.
package struct CronError: Error, Equatable, CustomStringConvertible {
    package var expression: String
    package var problem: String
    package var description: String { "invalid cron expression '\(expression)': \(problem)" }
}

private struct CronFieldProblem: Error {
    var text: String
}
