import Records

/// Encodes events in the JSON of the ingest contract (the inverse of ``EventParser``), appending
/// to a reusable byte buffer so that producing millions of events allocates almost nothing.
public enum EventEncoder {
    /// `{"user_id":42,"movie_id":318,"rating":4.5,"ts":1700000000}`.
    public static func appendRating(_ record: RatingRecord, to out: inout [UInt8]) {
        appendStatic("{\"user_id\":", to: &out)
        appendInteger(record.userID, to: &out)
        appendStatic(",\"movie_id\":", to: &out)
        appendInteger(record.movieID, to: &out)
        appendStatic(",\"rating\":", to: &out)
        appendRatingValue(record.rating, to: &out)
        appendStatic(",\"ts\":", to: &out)
        appendInteger(record.timestamp, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `{"user_id":42,"movie_id":318,"rating":null,"ts":1700000000}`: retracts a rating.
    public static func appendRetraction(userID: Int64, movieID: Int64, timestamp: Int64, to out: inout [UInt8]) {
        appendStatic("{\"user_id\":", to: &out)
        appendInteger(userID, to: &out)
        appendStatic(",\"movie_id\":", to: &out)
        appendInteger(movieID, to: &out)
        appendStatic(",\"rating\":null,\"ts\":", to: &out)
        appendInteger(timestamp, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `{"movie_id":1,"title":"Toy Story (1995)","genres":["Adventure","Animation"]}`.
    public static func appendMovie(_ record: MovieRecord, to out: inout [UInt8]) {
        appendStatic("{\"movie_id\":", to: &out)
        appendInteger(record.movieID, to: &out)
        appendStatic(",\"title\":", to: &out)
        appendString(record.title, to: &out)
        appendStatic(",\"genres\":[", to: &out)
        for (i, genre) in record.genres.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendString(genre, to: &out)
        }
        appendStatic("]}", to: &out)
    }

    /// The decimal digits of `value`.
    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, no heap
        withUnsafeMutableBytes(of: &digits) { scratch in
            var n = 0
            repeat {
                scratch[23 - n] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(24 - n)...]))
        }
    }

    /// A rating: `4.5`, `3`; values off the half-step grid keep their shortest decimal form
    /// (the consumer rejects them), non-finite values become a string (rejected as wrong type).
    static func appendRatingValue(_ rating: Float, to out: inout [UInt8]) {
        let twice = rating * 2
        if twice == twice.rounded(), twice >= 0, twice < 1_000_000 {
            let halves = Int64(twice)
            appendInteger(halves / 2, to: &out)
            if halves % 2 == 1 { appendStatic(".5", to: &out) }
        } else if rating.isFinite {
            out.append(contentsOf: "\(rating)".utf8)
        } else {
            appendString("\(rating)", to: &out)
        }
    }

    /// A JSON string literal with the escapes RFC 8259 requires.
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): appendStatic("\\\"", to: &out)
            case UInt8(ascii: "\\"): appendStatic("\\\\", to: &out)
            case 0x0A: appendStatic("\\n", to: &out)
            case 0x0D: appendStatic("\\r", to: &out)
            case 0x09: appendStatic("\\t", to: &out)
            case 0..<0x20:
                appendStatic("\\u00", to: &out)
                let hex: StaticString = "0123456789abcdef"
                out.append(hex.utf8Start[Int(byte >> 4)])
                out.append(hex.utf8Start[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func appendStatic(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
