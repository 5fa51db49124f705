/// Conversions between event timestamps and microseconds since the Unix epoch (the precision
/// of PostgreSQL's `timestamptz`).
public enum EventTimestamp {
    /// 0001-01-01T00:00:00Z in epoch seconds.
    public static let minimumSeconds: Int64 = -62_135_596_800
    /// 9999-12-31T23:59:59Z in epoch seconds.
    public static let maximumSeconds: Int64 = 253_402_300_799

    /// Microseconds for an epoch-seconds JSON number (fractions beyond 1 µs are truncated).
    static func microseconds(fromEpochSeconds n: JSONNumber, in scanner: JSONScanner) throws(EventRejection) -> Int64 {
        func outOfRange() -> EventRejection {
            let text = scanner.text(n.start, n.end)
            let hint = n.isNegative ? "" : " (epoch seconds expected; this looks like milliseconds or finer)"
            return EventRejection(.invalidTimestamp, "ts \(text) is outside years 1-9999\(hint)")
        }
        let e10 = n.exponent - n.fractionDigits
        guard !n.mantissaOverflow, e10 > -40, e10 < 20 else {
            // Too many digits for an exact integer: decide through the Double value.
            let v = n.doubleValue(in: scanner)
            guard v >= Double(minimumSeconds), v <= Double(maximumSeconds) else { throw outOfRange() }
            return Int64((v * 1_000_000).rounded(.towardZero))
        }
        // value = mantissa * 10^e10 seconds = mantissa * 10^(e10+6) microseconds.
        let shift = e10 + 6
        var micros: UInt64
        if shift >= 0 {
            var m = n.mantissa
            for _ in 0..<shift {
                let (p, o) = m.multipliedReportingOverflow(by: 10)
                if o { throw outOfRange() }
                m = p
            }
            micros = m
        } else {
            var m = n.mantissa
            for _ in 0..<(-shift) { m /= 10 }
            micros = m
        }
        guard micros <= UInt64(maximumSeconds) * 1_000_000 + 999_999 else { throw outOfRange() }
        let signed = Int64(micros)
        if n.isNegative {
            guard -signed >= minimumSeconds * 1_000_000 else { throw outOfRange() }
            return -signed
        }
        return signed
    }

    /// Microseconds for an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    /// `t`/space separators, `z`, and offsets without a colon are accepted; fractions beyond
    /// 1 µs are truncated; a leap second `:60` counts as the next second.
    public static func microseconds(rfc3339 bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = bytes.count
        func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let d = bytes[i + k] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += count
            return v
        }
        func take(_ c: UInt8) -> Bool {
            guard i < n, bytes[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), take(UInt8(ascii: "-")), let month = digits(2), take(UInt8(ascii: "-")),
              let day = digits(2) else { return nil }
        guard i < n, bytes[i] == UInt8(ascii: "T") || bytes[i] == UInt8(ascii: "t") || bytes[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), take(UInt8(ascii: ":")), let minute = digits(2), take(UInt8(ascii: ":")),
              let second = digits(2) else { return nil }
        var micros = 0
        if take(UInt8(ascii: ".")) {
            var count = 0
            while i < n, bytes[i] &- UInt8(ascii: "0") < 10 {
                if count < 6 { micros = micros * 10 + Int(bytes[i] &- UInt8(ascii: "0")) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 6) { micros *= 10 }
        }
        var offsetSeconds = 0
        guard i < n else { return nil }
        if bytes[i] == UInt8(ascii: "Z") || bytes[i] == UInt8(ascii: "z") {
            i += 1
        } else if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            let sign = bytes[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(2) else { return nil }
            _ = take(UInt8(ascii: ":"))
            guard let om = digits(2), oh < 24, om < 60 else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == n else { return nil }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        guard seconds >= minimumSeconds, seconds <= maximumSeconds + 1 else { return nil }
        return seconds * 1_000_000 + Int64(micros)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
