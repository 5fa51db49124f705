import Foundation

/// A byte-level reader for the flat JSON objects of the event contract.
///
/// It validates the full JSON grammar (RFC 8259) of everything it reads or skips, never
/// allocates on the common path (ASCII keys without escapes, numbers, null), and reports the
/// byte offset of the first syntax error. The payload must already be valid UTF-8.
struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let end: Int
    var index = 0

    /// Deepest nesting accepted inside skipped values (protects the stack).
    static let maximumDepth = 64

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
    }

    // MARK: Errors

    func malformed(_ what: String) -> EventRejection {
        if index >= end {
            return EventRejection(.malformedJSON, "malformed JSON at byte \(index): unexpected end of input, \(what)")
        }
        return EventRejection(.malformedJSON, "malformed JSON at byte \(index): \(what), found \(Self.describe(base[index]))")
    }

    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    // MARK: Structure

    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            let b = base[index]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            index += 1
        }
    }

    /// The next non-whitespace byte, or nil at end of input.
    @inline(__always)
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < end ? base[index] : nil
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(EventRejection) {
        skipWhitespace()
        guard index < end, base[index] == byte else { throw malformed(what()) }
        index += 1
    }

    mutating func expectEnd() throws(EventRejection) {
        skipWhitespace()
        if index != end { throw malformed("expected end of input after the object") }
    }

    /// Walks the members of an object whose `{` is next. `body` is called with each key
    /// (undecoded when it has no escapes) and must consume exactly one value.
    mutating func forEachMember(_ body: (inout JSONScanner, JSONKey) throws(EventRejection) -> Void) throws(EventRejection) {
        try expect(UInt8(ascii: "{"), "expected '{'")
        if peek() == UInt8(ascii: "}") { index += 1; return }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw malformed("expected a quoted object key") }
            let key = try readKey()
            try expect(UInt8(ascii: ":"), "expected ':' after object key")
            try body(&self, key)
            if try closes(with: UInt8(ascii: "}"), "expected ',' or '}' after object member") { return }
        }
    }

    /// Reads the `,` or the closing bracket after a member or element; true at the bracket.
    private mutating func closes(with closer: UInt8, _ what: String) throws(EventRejection) -> Bool {
        skipWhitespace()
        guard index < end else { throw malformed(what) }
        let b = base[index]
        index += 1
        if b == closer { return true }
        if b != UInt8(ascii: ",") { index -= 1; throw malformed(what) }
        return false
    }

    /// The key string at `index` (which holds the opening quote).
    mutating func readKey() throws(EventRejection) -> JSONKey {
        let start = index + 1
        let hasEscapes = try scanString()
        return JSONKey(start: start, count: index - 1 - start, hasEscapes: hasEscapes)
    }

    // MARK: Strings

    /// Moves past the string whose opening quote is at `index`, validating escapes and
    /// control characters. Returns whether it contains escapes.
    @discardableResult
    mutating func scanString() throws(EventRejection) -> Bool {
        index += 1
        var hasEscapes = false
        while index < end {
            let b = base[index]
            if b == UInt8(ascii: "\"") { index += 1; return hasEscapes }
            if b == UInt8(ascii: "\\") {
                hasEscapes = true
                _ = try readEscape(into: nil)
                continue
            }
            if b < 0x20 { throw malformed("control character inside a string (escape it)") }
            index += 1
        }
        throw malformed("unterminated string")
    }

    /// Decodes the string whose opening quote is at `index` into `out` (UTF-8 bytes).
    mutating func decodeString(into out: inout [UInt8]) throws(EventRejection) {
        out.removeAll(keepingCapacity: true)
        index += 1
        while index < end {
            let b = base[index]
            if b == UInt8(ascii: "\"") { index += 1; return }
            if b == UInt8(ascii: "\\") {
                _ = try readEscape(into: &out)
                continue
            }
            if b < 0x20 { throw malformed("control character inside a string (escape it)") }
            out.append(b)
            index += 1
        }
        throw malformed("unterminated string")
    }

    /// Reads one escape sequence at `index` (the backslash); appends its UTF-8 to `out` if given.
    private mutating func readEscape(into out: UnsafeMutablePointer<[UInt8]>?) throws(EventRejection) -> Void {
        index += 1
        guard index < end else { throw malformed("unterminated escape sequence") }
        let e = base[index]
        var scalar: UInt32
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalar = UInt32(e)
        case UInt8(ascii: "b"): scalar = 0x08
        case UInt8(ascii: "f"): scalar = 0x0C
        case UInt8(ascii: "n"): scalar = 0x0A
        case UInt8(ascii: "r"): scalar = 0x0D
        case UInt8(ascii: "t"): scalar = 0x09
        case UInt8(ascii: "u"):
            index += 1
            scalar = try readHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                guard index + 1 < end, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                    throw malformed("unpaired UTF-16 surrogate in \\u escape")
                }
                index += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low < 0xE000 else { throw malformed("unpaired UTF-16 surrogate in \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw malformed("unpaired UTF-16 surrogate in \\u escape")
            }
            if let out { Self.appendUTF8(scalar, to: &out.pointee) }
            return
        default:
            throw malformed("invalid escape sequence")
        }
        index += 1
        if let out { out.pointee.append(UInt8(truncatingIfNeeded: scalar)) }
    }

    private mutating func readHex4() throws(EventRejection) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard index < end else { throw malformed("expected 4 hex digits in \\u escape") }
            let b = base[index]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b &- UInt8(ascii: "A") &+ 10
            default: throw malformed("expected 4 hex digits in \\u escape")
            }
            v = v << 4 | UInt32(d)
            index += 1
        }
        return v
    }

    static func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    // MARK: Numbers

    /// Reads a JSON number at `index` (which holds '-' or a digit).
    mutating func readNumber() throws(EventRejection) -> JSONNumber {
        var n = JSONNumber(start: index)
        if base[index] == UInt8(ascii: "-") { n.isNegative = true; index += 1 }
        guard index < end, Self.isDigit(base[index]) else { throw malformed("expected a digit in number") }
        if base[index] == UInt8(ascii: "0") {
            index += 1
            if index < end, Self.isDigit(base[index]) { throw malformed("leading zeros are not allowed in numbers") }
        } else {
            while index < end, Self.isDigit(base[index]) { n.addDigit(base[index]); index += 1 }
        }
        if index < end, base[index] == UInt8(ascii: ".") {
            index += 1
            n.hasFraction = true
            guard index < end, Self.isDigit(base[index]) else { throw malformed("expected a digit after the decimal point") }
            while index < end, Self.isDigit(base[index]) {
                n.addDigit(base[index])
                n.fractionDigits += 1
                index += 1
            }
        }
        if index < end, base[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            n.hasExponent = true
            var negative = false
            if index < end, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") {
                negative = base[index] == UInt8(ascii: "-")
                index += 1
            }
            guard index < end, Self.isDigit(base[index]) else { throw malformed("expected a digit in the exponent") }
            var e = 0
            while index < end, Self.isDigit(base[index]) {
                if e < 100_000 { e = e * 10 + Int(base[index] &- UInt8(ascii: "0")) }
                index += 1
            }
            n.exponent = negative ? -e : e
        }
        n.end = index
        return n
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    // MARK: Literals and skipping

    mutating func readLiteral(_ word: StaticString) throws(EventRejection) {
        let count = word.utf8CodeUnitCount
        guard index + count <= end, memcmp(base + index, word.utf8Start, count) == 0 else {
            throw malformed("invalid literal (expected a value)")
        }
        index += count
    }

    /// Moves past one JSON value of any type, validating it.
    mutating func skipValue(depth: Int = 0) throws(EventRejection) {
        guard let b = peek() else { throw malformed("expected a value") }
        switch b {
        case UInt8(ascii: "\""): try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try readNumber()
        case UInt8(ascii: "t"): try readLiteral("true")
        case UInt8(ascii: "f"): try readLiteral("false")
        case UInt8(ascii: "n"): try readLiteral("null")
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { throw malformed("nesting deeper than \(Self.maximumDepth) levels") }
            try forEachMember { (s: inout JSONScanner, _) throws(EventRejection) in try s.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw malformed("nesting deeper than \(Self.maximumDepth) levels") }
            try forEachElement { (s: inout JSONScanner) throws(EventRejection) in try s.skipValue(depth: depth + 1) }
        default:
            throw malformed("expected a value")
        }
    }

    /// Walks the elements of an array whose `[` is next; `body` must consume one value.
    mutating func forEachElement(_ body: (inout JSONScanner) throws(EventRejection) -> Void) throws(EventRejection) {
        try expect(UInt8(ascii: "["), "expected '['")
        if peek() == UInt8(ascii: "]") { index += 1; return }
        while true {
            try body(&self)
            if try closes(with: UInt8(ascii: "]"), "expected ',' or ']' after array element") { return }
        }
    }

    /// The JSON type name of the value that starts with `byte`, for error messages.
    static func typeName(startingWith byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        default: return "a number"
        }
    }

    /// The raw source text of `start..<end`, for messages.
    func text(_ start: Int, _ stop: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + start, count: max(0, min(stop, end) - start)), as: UTF8.self)
    }
}

/// An object key as a range of the payload.
struct JSONKey {
    var start: Int
    var count: Int
    var hasEscapes: Bool
}

/// A JSON number as read: its decimal digits (up to 19 significant ones exactly), the
/// position of the decimal point and the exponent. Converted on demand.
struct JSONNumber {
    var start: Int
    var end = 0
    var isNegative = false
    var hasFraction = false
    var hasExponent = false
    /// All digits (integer and fraction part) as one integer, when it fits.
    var mantissa: UInt64 = 0
    var mantissaOverflow = false
    var fractionDigits = 0
    var exponent = 0

    init(start: Int) { self.start = start }

    @inline(__always)
    mutating func addDigit(_ b: UInt8) {
        let d = UInt64(b &- UInt8(ascii: "0"))
        let (m1, o1) = mantissa.multipliedReportingOverflow(by: 10)
        let (m2, o2) = m1.addingReportingOverflow(d)
        if o1 || o2 { mantissaOverflow = true } else { mantissa = m2 }
    }

    var isInteger: Bool { !hasFraction && !hasExponent }

    private static let exactPowers: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The value as a correctly rounded Double.
    func doubleValue(in scanner: JSONScanner) -> Double {
        let e10 = exponent - fractionDigits
        if !mantissaOverflow, mantissa <= 1 << 53, e10 >= -22, e10 <= 22 {
            // Both operands are exact, so one IEEE operation rounds correctly.
            var v = Double(mantissa)
            v = e10 >= 0 ? v * Self.exactPowers[e10] : v / Self.exactPowers[-e10]
            return isNegative ? -v : v
        }
        // Rare: long or extreme numbers go through strtod on a NUL-terminated copy.
        var buffer = [CChar](repeating: 0, count: end - start + 1)
        for i in 0..<(end - start) { buffer[i] = CChar(bitPattern: scanner.base[start + i]) }
        return strtod(buffer, nil)
    }
}
