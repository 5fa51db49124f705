#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams a file line by line as raw bytes, reading large chunks: no per-line allocation.
/// Lines are passed without their terminator (`\n`, and a trailing `\r` is removed).
enum MovieLensLines {
    static let chunkSize = 4 << 20

    static func forEachLine(
        in path: String,
        _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void
    ) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw MovieLensError.unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var capacity = chunkSize
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var filled = 0
        var lineNumber = 0
        var atEnd = false
        while !atEnd {
            if filled == capacity {
                // A single line longer than the buffer: grow.
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let n = read(fd, buffer + filled, capacity - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw MovieLensError.unreadable(file: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { atEnd = true }
            filled += n
            var start = 0
            var i = filled - n
            if atEnd && filled > 0 && buffer[filled - 1] != UInt8(ascii: "\n") {
                // Last line without a terminator.
                buffer[filled] = UInt8(ascii: "\n")  // capacity > filled is guaranteed below
                filled += 1
            }
            while i < filled {
                // memchr is vectorised: much faster than a byte loop for the terminator search.
                guard let hit = memchr(buffer + i, 0x0A, filled - i) else { break }
                let end = UnsafeMutableRawPointer(hit).assumingMemoryBound(to: UInt8.self) - buffer
                var lineEnd = end
                if lineEnd > start && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                lineNumber += 1
                try body(UnsafeBufferPointer(start: buffer + start, count: lineEnd - start), lineNumber)
                start = end + 1
                i = start
            }
            // Keep the partial line for the next read; keep one spare byte for the final newline.
            let rest = filled - start
            if rest > 0 && start > 0 { memmove(buffer, buffer + start, rest) }
            filled = rest
            if filled >= capacity - 1 && !atEnd {
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buffer, count: filled)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
        }
    }

    /// The whole file as text: UTF-8 when valid, otherwise latin-1 (ML-100K and ML-1M catalogues).
    static func readText(_ path: String) throws -> String {
        var bytes: [UInt8] = []
        try forEachLine(in: path) { line, _ in
            bytes.append(contentsOf: line)
            bytes.append(0x0A)
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var text = ""
        text.unicodeScalars.reserveCapacity(bytes.count)
        for b in bytes { text.unicodeScalars.append(Unicode.Scalar(b)) }
        return text
    }
}

/// Byte-level field parsing for the rating files.
enum MovieLensBytes {
    /// Parses a non-negative or negative decimal integer; nil when not an integer.
    @inline(__always)
    static func parseInt(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int64? {
        var i = 0
        var negative = false
        if count > 0 && (p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "+")) {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        guard i < count else { return nil }
        var value: Int64 = 0
        while i < count {
            let d = p[i] &- 48
            guard d < 10 else { break }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        if i < count {
            // A float-typed integer such as "881250949.0" (RecBole declares timestamps float).
            guard p[i] == UInt8(ascii: "."), i > (negative ? 1 : 0) else { return nil }
            i += 1
            while i < count {
                guard p[i] &- 48 < 10 else { return nil }
                i += 1
            }
        }
        return negative ? -value : value
    }

    /// Parses a decimal number such as "4", "4.0", "3.5"; falls back to strtod for exponents.
    /// Returns nil when not a number; NaN is returned as NaN so the caller can name it.
    @inline(__always)
    static func parseFloat(_ p: UnsafePointer<UInt8>, _ count: Int) -> Float? {
        guard count > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "+") {
            negative = p[0] == UInt8(ascii: "-")
            i = 1
        }
        var mantissa: Int64 = 0
        var digits = 0
        var scale = 0
        while i < count, p[i] &- 48 < 10, digits < 15 {
            mantissa = mantissa * 10 + Int64(p[i] &- 48)
            digits += 1
            i += 1
        }
        if i < count && p[i] == UInt8(ascii: ".") {
            i += 1
            while i < count, p[i] &- 48 < 10, digits < 15 {
                mantissa = mantissa * 10 + Int64(p[i] &- 48)
                digits += 1
                scale += 1
                i += 1
            }
        }
        if i == count && digits > 0 {
            var v = Double(mantissa)
            if scale > 0 { v /= powersOfTen[scale] }
            return Float(negative ? -v : v)
        }
        return slowFloat(p, count)
    }

    private static let powersOfTen: [Double] = (0...16).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    private static func slowFloat(_ p: UnsafePointer<UInt8>, _ count: Int) -> Float? {
        guard count < 64 else { return nil }
        var text = [CChar](repeating: 0, count: count + 1)
        for j in 0..<count { text[j] = CChar(bitPattern: p[j]) }
        return text.withUnsafeBufferPointer { t -> Float? in
            guard let base = t.baseAddress else { return nil }
            var end: UnsafeMutablePointer<CChar>?
            let v = strtod(base, &end)
            guard let end, end - UnsafeMutablePointer(mutating: base) == count else { return nil }
            return Float(v)
        }
    }

    static func text(_ p: UnsafePointer<UInt8>, _ count: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    }
}
