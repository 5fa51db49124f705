import Foundation
import Records

/// Parses the JSON events of the ingest contract (see the README):
///
/// - rating: `{"user_id": 42, "movie_id": 318, "rating": 4.5, "ts": 1700000000}`; `rating`
///   null retracts; `ts` is epoch seconds (a number, fractions allowed) or an RFC 3339 string;
/// - movie: `{"movie_id": 1, "title": "Toy Story (1995)", "genres": ["Adventure"]}`;
///   `genres` may be absent or null (no genres).
///
/// Unknown fields are ignored (but must be valid JSON). A known field given twice is rejected
/// as ambiguous. When a payload has several problems, a JSON syntax error wins over field
/// errors, and among field errors the first one in the payload is reported.
package enum EventParser {
    /// Larger payloads are rejected without parsing.
    package static let maximumPayloadSize = 64 * 1024

    // MARK: Ratings

    /// Parses a rating event, or throws why it is rejected.
    package static func rating(from payload: UnsafeRawBufferPointer) throws(EventRejection) -> RatingEvent {
        var scanner = try objectScanner(payload)
        var userID: Int64 = 0
        var movieID: Int64 = 0
        var rating: Float? = nil
        var micros: Int64 = 0
        var problem: EventRejection? = nil
        let seen = try readKnownMembers(&scanner, ratingFields, problem: &problem) { (s: inout JSONScanner, field) throws(EventRejection) in
            switch field {
            case .userID: userID = try readID(&s, "user_id")
            case .movieID: movieID = try readID(&s, "movie_id")
            case .rating: rating = try readRating(&s)
            default: micros = try readTimestamp(&s)
            }
        }
        try scanner.expectEnd()
        if let problem { throw problem }
        if !seen.contains(.userID) { throw missing("user_id", "a positive integer") }
        if !seen.contains(.movieID) { throw missing("movie_id", "a positive integer") }
        if !seen.contains(.rating) { throw missing("rating", "a multiple of 0.5 in [0.5, 5.0], or null to retract") }
        if !seen.contains(.timestamp) { throw missing("ts", "epoch seconds or an RFC 3339 date-time") }
        return RatingEvent(userID: userID, movieID: movieID, rating: rating, timestampMicros: micros)
    }

    // MARK: Movies

    /// Parses a movie event, or throws why it is rejected.
    package static func movie(from payload: UnsafeRawBufferPointer) throws(EventRejection) -> MovieRecord {
        var scanner = try objectScanner(payload)
        var movieID: Int64 = 0
        var title = ""
        var genres: [String] = []
        var problem: EventRejection? = nil
        var scratch: [UInt8] = []
        let seen = try readKnownMembers(&scanner, movieFields, problem: &problem) { (s: inout JSONScanner, field) throws(EventRejection) in
            switch field {
            case .movieID: movieID = try readID(&s, "movie_id")
            case .title:
                guard s.peek() == UInt8(ascii: "\"") else { throw try wrongType(&s, "title", "a non-empty string") }
                try s.decodeString(into: &scratch)
                title = try text(scratch, "title")
                if title.isEmpty { throw EventRejection(.invalidText, "field \"title\" is empty") }
            default:
                genres = []
                if s.peek() == UInt8(ascii: "n") { try s.readLiteral("null"); return }
                guard s.peek() == UInt8(ascii: "[") else { throw try wrongType(&s, "genres", "an array of strings") }
                var elementProblem: EventRejection? = nil
                try s.forEachElement { (s: inout JSONScanner) throws(EventRejection) in
                    guard s.peek() == UInt8(ascii: "\"") else {
                        if elementProblem == nil {
                            elementProblem = EventRejection(.wrongType, "field \"genres\" must be an array of strings, found an element that is \(typeName(&s))")
                        }
                        try s.skipValue()
                        return
                    }
                    try s.decodeString(into: &scratch)
                    do throws(EventRejection) { genres.append(try text(scratch, "genres")) } catch {
                        if elementProblem == nil { elementProblem = error }
                    }
                }
                if let elementProblem { throw elementProblem }
            }
        }
        try scanner.expectEnd()
        if let problem { throw problem }
        if !seen.contains(.movieID) { throw missing("movie_id", "a positive integer") }
        if !seen.contains(.title) { throw missing("title", "a non-empty string") }
        return MovieRecord(movieID: movieID, title: title, genres: genres)
    }

    // MARK: Members

    /// The known fields of a rating event, by key.
    private static let ratingFields: KeyValuePairs<StaticString, EventFields> = [
        "user_id": .userID, "movie_id": .movieID, "rating": .rating, "ts": .timestamp,
    ]

    /// The known fields of a movie event, by key.
    private static let movieFields: KeyValuePairs<StaticString, EventFields> = ["movie_id": .movieID, "title": .title, "genres": .genres]

    /// Reads the members of the object in `scanner`: each known field (a value of `fields`,
    /// under its key) through `read`, every other member skipped. A known field given twice,
    /// or one `read` rejects, is kept in `problem` (the first one wins) and reading goes on, so
    /// that a JSON syntax error later in the payload takes precedence; a syntax error is
    /// thrown at once. Returns the known fields seen.
    private static func readKnownMembers(
        _ scanner: inout JSONScanner, _ fields: KeyValuePairs<StaticString, EventFields>, problem: inout EventRejection?,
        _ read: (inout JSONScanner, EventFields) throws(EventRejection) -> Void
    ) throws(EventRejection) -> EventFields {
        var seen: EventFields = []
        try scanner.forEachMember { (s: inout JSONScanner, key: JSONKey) throws(EventRejection) in
            guard let field = fields.first(where: { key.matches($0.key, in: s) })?.value else {
                try s.skipValue()
                return
            }
            if seen.contains(field) {
                if problem == nil { problem = EventRejection(.duplicateField, "field \"\(s.keyText(key))\" appears more than once") }
                try s.skipValue()
                return
            }
            seen.insert(field)
            do throws(EventRejection) {
                try read(&s, field)
            } catch where error.reason == .malformedJSON {
                throw error
            } catch {
                if problem == nil { problem = error }
            }
        }
        return seen
    }

    // MARK: Conveniences

    /// Parses a rating event from bytes.
    package static func rating(from payload: [UInt8]) throws(EventRejection) -> RatingEvent {
        try parse(payload, with: rating(from:))
    }

    /// Parses a rating event from text.
    package static func rating(from text: String) throws(EventRejection) -> RatingEvent {
        try rating(from: Array(text.utf8))
    }

    /// Parses a movie event from bytes.
    package static func movie(from payload: [UInt8]) throws(EventRejection) -> MovieRecord {
        try parse(payload, with: movie(from:))
    }

    /// Runs a raw-buffer parser over an array (`withUnsafeBytes` does not pass typed errors on).
    private static func parse<Event>(
        _ payload: [UInt8], with parser: (UnsafeRawBufferPointer) throws(EventRejection) -> Event
    ) throws(EventRejection) -> Event {
        let result: Result<Event, EventRejection> = payload.withUnsafeBytes { raw in
            do throws(EventRejection) { return .success(try parser(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses a movie event from text.
    package static func movie(from text: String) throws(EventRejection) -> MovieRecord {
        try movie(from: Array(text.utf8))
    }

    // MARK: Pieces

    /// Checks size and encoding, and positions a scanner on the top-level object.
    private static func objectScanner(_ payload: UnsafeRawBufferPointer) throws(EventRejection) -> JSONScanner {
        guard payload.count > 0, let raw = payload.baseAddress else {
            throw EventRejection(.emptyPayload, "the message has no payload; expected a JSON object")
        }
        guard payload.count <= maximumPayloadSize else {
            throw EventRejection(.payloadTooLarge, "payload is \(payload.count) bytes; the limit is \(maximumPayloadSize) bytes")
        }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        if let bad = UTF8Validation.firstInvalidOffset(base, count: payload.count) {
            throw EventRejection(.invalidUTF8, "payload is not valid UTF-8 (first invalid byte at offset \(bad)); encode events as UTF-8 JSON")
        }
        var scanner = JSONScanner(base: base, count: payload.count)
        guard let first = scanner.peek() else { throw scanner.malformed("expected a JSON object") }
        if first != UInt8(ascii: "{") {
            try scanner.skipValue()
            try scanner.expectEnd()
            throw EventRejection(.notAnObject, "payload is \(JSONScanner.typeName(startingWith: first)), expected a JSON object")
        }
        return scanner
    }

    private static func missing(_ field: String, _ expected: String) -> EventRejection {
        EventRejection(.missingField, "required field \"\(field)\" is missing (expected \(expected))")
    }

    private static func typeName(_ s: inout JSONScanner) -> String {
        guard let b = s.peek() else { return "nothing" }
        return JSONScanner.typeName(startingWith: b)
    }

    /// Consumes the value and returns the wrong-type rejection for it.
    private static func wrongType(_ s: inout JSONScanner, _ field: String, _ expected: String) throws(EventRejection) -> EventRejection {
        let found = typeName(&s)
        try s.skipValue()
        return EventRejection(.wrongType, "field \"\(field)\" must be \(expected), found \(found)")
    }

    private static func readID(_ s: inout JSONScanner, _ field: String) throws(EventRejection) -> Int64 {
        guard let b = s.peek(), b == UInt8(ascii: "-") || JSONScanner.isDigit(b) else {
            throw try wrongType(&s, field, "a positive integer")
        }
        let n = try s.readNumber()
        guard n.isInteger else {
            throw EventRejection(.wrongType, "field \"\(field)\" must be an integer without fraction or exponent, found \(s.text(n.start, n.end))")
        }
        if n.isNegative || (n.mantissa == 0 && !n.mantissaOverflow) {
            throw EventRejection(.nonPositiveID, "field \"\(field)\" must be a positive integer, found \(s.text(n.start, n.end))")
        }
        guard !n.mantissaOverflow, n.mantissa <= UInt64(Int64.max) else {
            throw EventRejection(.idTooLarge, "field \"\(field)\" is \(s.text(n.start, n.end)), larger than the 64-bit maximum \(Int64.max)")
        }
        return Int64(n.mantissa)
    }

    private static func readRating(_ s: inout JSONScanner) throws(EventRejection) -> Float? {
        guard let b = s.peek() else { throw s.malformed("expected a value") }
        if b == UInt8(ascii: "n") { try s.readLiteral("null"); return nil }
        guard b == UInt8(ascii: "-") || JSONScanner.isDigit(b) else {
            throw try wrongType(&s, "rating", "a number (a multiple of 0.5 in [0.5, 5.0]) or null to retract")
        }
        let n = try s.readNumber()
        let v = n.doubleValue(in: s)
        guard v >= 0.5 && v <= 5.0 else {
            throw EventRejection(.ratingOutOfRange, "rating \(s.text(n.start, n.end)) is outside [0.5, 5.0] (use null to retract a rating)")
        }
        let doubled = v * 2
        guard doubled == doubled.rounded() else {
            throw EventRejection(.ratingNotHalfStep, "rating \(s.text(n.start, n.end)) is not a multiple of 0.5")
        }
        return Float(v)
    }

    private static func readTimestamp(_ s: inout JSONScanner) throws(EventRejection) -> Int64 {
        guard let b = s.peek() else { throw s.malformed("expected a value") }
        if b == UInt8(ascii: "-") || JSONScanner.isDigit(b) {
            let n = try s.readNumber()
            return try EventTimestamp.microseconds(fromEpochSeconds: n, in: s)
        }
        guard b == UInt8(ascii: "\"") else {
            throw try wrongType(&s, "ts", "epoch seconds (a number) or an RFC 3339 string")
        }
        let start = s.index + 1
        let hasEscapes = try s.scanString()
        let parsed: Int64?
        let shown: String
        if hasEscapes {
            var scratch: [UInt8] = []
            var copy = s
            copy.index = start - 1
            try copy.decodeString(into: &scratch)
            parsed = scratch.withUnsafeBufferPointer { EventTimestamp.microseconds(rfc3339: $0) }
            shown = String(decoding: scratch, as: UTF8.self)
        } else {
            parsed = EventTimestamp.microseconds(rfc3339: UnsafeBufferPointer(start: s.base + start, count: s.index - 1 - start))
            shown = parsed == nil ? s.text(start, s.index - 1) : ""
        }
        guard let parsed else {
            throw EventRejection(.invalidTimestamp, "ts \"\(shown)\" is not an RFC 3339 date-time in years 1-9999 (e.g. \"2023-11-14T22:13:20Z\" or \"2023-11-14T23:13:20.5+01:00\")")
        }
        return parsed
    }

    /// A decoded string as Swift text, rejecting what PostgreSQL `text` cannot hold.
    private static func text(_ bytes: [UInt8], _ field: String) throws(EventRejection) -> String {
        if bytes.contains(0) {
            throw EventRejection(.invalidText, "field \"\(field)\" contains a NUL character (\\u0000), which PostgreSQL text cannot store")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension JSONKey {
    /// Whether the key equals `name` (an ASCII field name).
    @inline(__always)
    func matches(_ name: StaticString, in s: JSONScanner) -> Bool {
        if !hasEscapes {
            return count == name.utf8CodeUnitCount && memcmp(s.base + start, name.utf8Start, count) == 0
        }
        var copy = s
        copy.index = start - 1
        var decoded: [UInt8] = []
        do { try copy.decodeString(into: &decoded) } catch { return false }
        return decoded.count == name.utf8CodeUnitCount && memcmp(decoded, name.utf8Start, decoded.count) == 0
    }
}

extension JSONScanner {
    /// The key's text, for messages.
    func keyText(_ key: JSONKey) -> String { text(key.start, key.start + key.count) }
}

/// The known fields of an event the parser has read so far: a field seen twice is refused as
/// ambiguous, and a required field never seen is reported missing.
struct EventFields: OptionSet {
    let rawValue: UInt8

    static let userID = EventFields(rawValue: 1 << 0)
    static let movieID = EventFields(rawValue: 1 << 1)
    static let rating = EventFields(rawValue: 1 << 2)
    static let timestamp = EventFields(rawValue: 1 << 3)
    static let title = EventFields(rawValue: 1 << 4)
    static let genres = EventFields(rawValue: 1 << 5)
}
