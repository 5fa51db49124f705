import Ingest
import Records
import Models
import Pipeline
import XCTest

/// The event contract: every accepted form and every rejection reason.
final class EventParserTests: XCTestCase {
    // MARK: Helpers

    private func rating(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> RatingEvent? {
        do {
            return try EventParser.rating(from: text)
        } catch {
            XCTFail("rejected \(text): \(error)", file: file, line: line)
            return nil
        }
    }

    /// Which parser a rejection test feeds.
    private enum Payload { case rating, movie }

    private func assertRejected(
        _ text: String, _ reason: EventRejection.Reason, containing fragment: String? = nil, as payload: Payload = .rating,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertRejected(Array(text.utf8), reason, containing: fragment, as: payload, file: file, line: line)
    }

    private func assertRejected(
        _ bytes: [UInt8], _ reason: EventRejection.Reason, containing fragment: String? = nil, as payload: Payload = .rating,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do throws(EventRejection) {
            let event: Any = switch payload {
            case .rating: try EventParser.rating(from: bytes)
            case .movie: try EventParser.movie(from: bytes)
            }
            XCTFail("accepted \(String(decoding: bytes, as: UTF8.self)) as \(event)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.reason, reason, "\(error)", file: file, line: line)
            if let fragment {
                XCTAssertTrue(error.message.contains(fragment), "message \"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        }
    }

    // MARK: Accepted rating events

    func testParsesTheContractExample() {
        let event = rating(#"{"user_id": 42, "movie_id": 318, "rating": 4.5, "ts": 1700000000}"#)
        XCTAssertEqual(event, RatingEvent(userID: 42, movieID: 318, rating: 4.5, timestampMicros: 1_700_000_000_000_000))
    }

    func testNullRatingIsARetraction() {
        let event = rating(#"{"ts":5,"rating":null,"movie_id":2,"user_id":1}"#)
        XCTAssertEqual(event?.isRetraction, true)
        XCTAssertEqual(event?.timestampMicros, 5_000_000)
    }

    func testAcceptsEveryHalfStepAndNumberSpellings() {
        for halves in 1...10 {
            let value = Double(halves) / 2
            XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":\#(value),"ts":0}"#)?.rating, Float(value))
        }
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":4,"ts":0}"#)?.rating, 4)
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":0.45e1,"ts":0}"#)?.rating, 4.5)
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":35E-1,"ts":0}"#)?.rating, 3.5)
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":5.000000000000000000000,"ts":0}"#)?.rating, 5)
    }

    func testLargestIDFits() {
        let event = rating(#"{"user_id":9223372036854775807,"movie_id":1,"rating":1,"ts":0}"#)
        XCTAssertEqual(event?.userID, Int64.max)
    }

    func testEpochSecondsWithFraction() {
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":1,"ts":1700000000.25}"#)?.timestampMicros, 1_700_000_000_250_000)
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":1,"ts":1.7e9}"#)?.timestampMicros, 1_700_000_000_000_000)
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":1,"ts":-1}"#)?.timestampMicros, -1_000_000)
    }

    func testRFC3339Timestamps() {
        let cases: [(String, Int64)] = [
            ("2023-11-14T22:13:20Z", 1_700_000_000_000_000),
            ("2023-11-14t22:13:20z", 1_700_000_000_000_000),
            ("2023-11-14 22:13:20Z", 1_700_000_000_000_000),
            ("2023-11-14T23:13:20+01:00", 1_700_000_000_000_000),
            ("2023-11-14T17:43:20-04:30", 1_700_000_000_000_000),
            ("2023-11-14T22:13:20.5Z", 1_700_000_000_500_000),
            ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
            ("1969-12-31T23:59:59Z", -1_000_000),
        ]
        for (text, micros) in cases {
            XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":1,"ts":"\#(text)"}"#)?.timestampMicros, micros, text)
        }
        // An escaped character inside the string is decoded first.
        XCTAssertEqual(rating(#"{"user_id":1,"movie_id":1,"rating":1,"ts":"2023-11-14T22:13:20\u005A"}"#)?.timestampMicros, 1_700_000_000_000_000)
    }

    func testUnknownFieldsOfAnyShapeAreSkipped() {
        let text = #"""
        { "source": {"app": "web", "tags": ["a", {"deep": [1, 2.5e3, true, false, null, "x\"]}"]}]},
          "user_id" : 7 , "note": "\u00e9\ud83d\ude00", "movie_id":8, "rating":2.5, "ts":1, "z": [] }
        """#
        XCTAssertEqual(rating(text), RatingEvent(userID: 7, movieID: 8, rating: 2.5, timestampMicros: 1_000_000))
    }

    func testEscapedKeysMatchFieldNames() {
        XCTAssertEqual(rating(#"{"user\u005fid":3,"movie_id":4,"rating":1,"ts":0}"#)?.userID, 3)
    }

    // MARK: Rejection reasons

    func testEmptyPayload() {
        assertRejected([], .emptyPayload)
    }

    func testPayloadOverLimit() {
        let padding = String(repeating: "x", count: EventParser.maximumPayloadSize)
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":0,"pad":"\#(padding)"}"#, .payloadTooLarge, containing: "65536")
    }

    func testInvalidUTF8() {
        var bytes = Array(#"{"user_id":1,"movie_id":1,"rating":1,"ts":0,"n":"é"}"#.utf8)
        bytes[bytes.count - 3] = 0xFF
        assertRejected(bytes, .invalidUTF8, containing: "offset")
        // Overlong encoding and an encoded surrogate are invalid too.
        assertRejected(Array(#"{"a":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), .invalidUTF8)
        assertRejected(Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8), .invalidUTF8)
        assertRejected(Array(#"{"a":""#.utf8) + [0xE2, 0x82] , .invalidUTF8)
    }

    func testMalformedJSONReportsPosition() {
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":0"#, .malformedJSON, containing: "end of input")
        assertRejected(#"{"user_id":1 "movie_id":1}"#, .malformedJSON, containing: "byte 13")
        assertRejected(#"{"user_id":01,"movie_id":1,"rating":1,"ts":0}"#, .malformedJSON, containing: "leading zeros")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":0} x"#, .malformedJSON, containing: "end of input after")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":0,}"#, .malformedJSON)
        assertRejected(#"{'user_id':1}"#, .malformedJSON)
        assertRejected(#"{"a":"\x"}"#, .malformedJSON, containing: "escape")
        assertRejected(#"{"a":"\ud800"}"#, .malformedJSON, containing: "surrogate")
        assertRejected("{\"a\":\"tab\there\"}", .malformedJSON, containing: "control character")
        assertRejected(#"{"a":tru}"#, .malformedJSON)
        assertRejected(#"{"a":[1,2}"#, .malformedJSON)
        assertRejected(#"{"a":1.}"#, .malformedJSON)
        assertRejected("   ", .malformedJSON)
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        assertRejected(#"{"a":\#(deep)}"#, .malformedJSON, containing: "nesting")
    }

    func testSyntaxErrorsWinOverFieldErrors() {
        assertRejected(#"{"user_id":"x","movie_id":1,"rating":1,"ts":0"#, .malformedJSON)
    }

    func testNotAnObject() {
        assertRejected(#"[1,2]"#, .notAnObject, containing: "an array")
        assertRejected(#"42"#, .notAnObject)
        assertRejected(#""text""#, .notAnObject)
        assertRejected("null", .notAnObject)
    }

    func testMissingFields() {
        assertRejected(#"{"movie_id":1,"rating":1,"ts":0}"#, .missingField, containing: "user_id")
        assertRejected(#"{"user_id":1,"rating":1,"ts":0}"#, .missingField, containing: "movie_id")
        assertRejected(#"{"user_id":1,"movie_id":1,"ts":0}"#, .missingField, containing: "\"rating\"")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1}"#, .missingField, containing: "ts")
        assertRejected(#"{}"#, .missingField)
    }

    func testDuplicateKnownFieldIsAmbiguous() {
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"rating":2,"ts":0}"#, .duplicateField, containing: "rating")
        // Duplicate unknown fields are ignored like the fields themselves.
        XCTAssertNotNil(rating(#"{"x":1,"x":2,"user_id":1,"movie_id":1,"rating":1,"ts":0}"#))
    }

    func testWrongTypes() {
        assertRejected(#"{"user_id":"42","movie_id":1,"rating":1,"ts":0}"#, .wrongType, containing: "found a string")
        assertRejected(#"{"user_id":4.2,"movie_id":1,"rating":1,"ts":0}"#, .wrongType, containing: "integer")
        assertRejected(#"{"user_id":4e2,"movie_id":1,"rating":1,"ts":0}"#, .wrongType, containing: "integer")
        assertRejected(#"{"user_id":null,"movie_id":1,"rating":1,"ts":0}"#, .wrongType)
        assertRejected(#"{"user_id":1,"movie_id":[1],"rating":1,"ts":0}"#, .wrongType, containing: "an array")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":"4.5","ts":0}"#, .wrongType, containing: "rating")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":true,"ts":0}"#, .wrongType)
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":null}"#, .wrongType, containing: "ts")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":{"s":1}}"#, .wrongType, containing: "an object")
    }

    func testRatingOutOfRange() {
        for value in ["0", "0.0", "5.5", "-1", "10", "1e3", "0.49"] {
            assertRejected(#"{"user_id":1,"movie_id":1,"rating":\#(value),"ts":0}"#, .ratingOutOfRange, containing: value)
        }
    }

    func testRatingNotAHalfStep() {
        for value in ["3.7", "4.25", "1.00001", "2.4999999"] {
            assertRejected(#"{"user_id":1,"movie_id":1,"rating":\#(value),"ts":0}"#, .ratingNotHalfStep, containing: value)
        }
    }

    func testNonPositiveIDs() {
        assertRejected(#"{"user_id":0,"movie_id":1,"rating":1,"ts":0}"#, .nonPositiveID, containing: "user_id")
        assertRejected(#"{"user_id":1,"movie_id":-5,"rating":1,"ts":0}"#, .nonPositiveID, containing: "movie_id")
        assertRejected(#"{"user_id":-0,"movie_id":1,"rating":1,"ts":0}"#, .nonPositiveID)
        assertRejected(#"{"user_id":-99999999999999999999999,"movie_id":1,"rating":1,"ts":0}"#, .nonPositiveID)
    }

    func testIDTooLarge() {
        assertRejected(#"{"user_id":9223372036854775808,"movie_id":1,"rating":1,"ts":0}"#, .idTooLarge, containing: "64-bit")
        assertRejected(#"{"user_id":1,"movie_id":123456789012345678901234567890,"rating":1,"ts":0}"#, .idTooLarge)
    }

    func testUnparsableTimestamps() {
        for text in [
            "yesterday", "2023-11-14", "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
            "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+25:00", "", "0000-01-01T00:00:00Z",
        ] {
            assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":"\#(text)"}"#, .invalidTimestamp, containing: "RFC 3339")
        }
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":1700000000000}"#, .invalidTimestamp, containing: "milliseconds")
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":-1e20}"#, .invalidTimestamp)
        assertRejected(#"{"user_id":1,"movie_id":1,"rating":1,"ts":1e400}"#, .invalidTimestamp)
    }

    func testFirstFieldErrorIsReported() {
        assertRejected(#"{"user_id":0,"movie_id":1,"rating":9,"ts":0}"#, .nonPositiveID)
    }

    func testEveryReasonIsCovered() {
        // Keeps this file honest when a reason is added: each one needs a test above.
        let covered: Set<EventRejection.Reason> = [
            .emptyPayload, .payloadTooLarge, .invalidUTF8, .malformedJSON, .notAnObject, .missingField,
            .duplicateField, .wrongType, .ratingOutOfRange, .ratingNotHalfStep, .nonPositiveID, .idTooLarge,
            .invalidTimestamp, .invalidText,
        ]
        XCTAssertEqual(covered, Set(EventRejection.Reason.allCases))
    }

    func testDescriptionStartsWithTheStableCode() {
        let rejection = EventRejection(.wrongType, "field \"ts\" must be a number")
        XCTAssertEqual(rejection.description, "wrong_type: field \"ts\" must be a number")
    }

    // MARK: Movie events

    func testParsesMovieEvents() throws {
        let movie = try EventParser.movie(from: #"{"movie_id": 1, "title": "Toy Story (1995)", "genres": ["Adventure", "Animation"], "year": 1995}"#)
        XCTAssertEqual(movie, MovieRecord(movieID: 1, title: "Toy Story (1995)", genres: ["Adventure", "Animation"]))
        let escaped = try EventParser.movie(from: #"{"movie_id":2,"title":"Am\u00e9lie \"Le fabuleux\" \ud83c\udfac","genres":null}"#)
        XCTAssertEqual(escaped.title, "Amélie \"Le fabuleux\" 🎬")
        XCTAssertEqual(escaped.genres, [])
        XCTAssertEqual(try EventParser.movie(from: #"{"title":"X","movie_id":3}"#).genres, [])
    }

    func testMovieRejections() {
        assertRejected(#"{"title":"X","genres":[]}"#, .missingField, containing: "movie_id", as: .movie)
        assertRejected(#"{"movie_id":1,"genres":[]}"#, .missingField, containing: "title", as: .movie)
        assertRejected(#"{"movie_id":1,"title":7}"#, .wrongType, containing: "title", as: .movie)
        assertRejected(#"{"movie_id":1,"title":"X","genres":"Drama"}"#, .wrongType, containing: "genres", as: .movie)
        assertRejected(#"{"movie_id":1,"title":"X","genres":["Drama",3]}"#, .wrongType, containing: "element", as: .movie)
        assertRejected(#"{"movie_id":1,"title":""}"#, .invalidText, containing: "empty", as: .movie)
        assertRejected(#"{"movie_id":1,"title":"a\u0000b"}"#, .invalidText, containing: "NUL", as: .movie)
        assertRejected(#"{"movie_id":1,"title":"X","genres":["\u0000"]}"#, .invalidText, as: .movie)
        assertRejected(#"{"movie_id":0,"title":"X"}"#, .nonPositiveID, as: .movie)
        assertRejected(#"{"movie_id":1,"movie_id":2,"title":"X"}"#, .duplicateField, as: .movie)
        assertRejected(#"{"movie_id":1,"title":"X""#, .malformedJSON, as: .movie)
    }

    // MARK: Encoder

    func testEncoderRoundTrips() throws {
        var buffer: [UInt8] = []
        let records = [
            RatingRecord(userID: 42, movieID: 318, rating: 4.5, timestamp: 1_700_000_000),
            RatingRecord(userID: Int64.max, movieID: 1, rating: 0.5, timestamp: -5),
            RatingRecord(userID: 1, movieID: 9, rating: 5, timestamp: 0),
        ]
        for record in records {
            buffer.removeAll(keepingCapacity: true)
            EventEncoder.appendRating(record, to: &buffer)
            let event = try EventParser.rating(from: buffer)
            XCTAssertEqual(event, RatingEvent(userID: record.userID, movieID: record.movieID, rating: record.rating, timestampMicros: record.timestamp * 1_000_000))
        }
        buffer.removeAll()
        EventEncoder.appendRating(RatingRecord(userID: 42, movieID: 318, rating: 4.5, timestamp: 1_700_000_000), to: &buffer)
        XCTAssertEqual(String(decoding: buffer, as: UTF8.self), #"{"user_id":42,"movie_id":318,"rating":4.5,"ts":1700000000}"#)

        buffer.removeAll()
        EventEncoder.appendRetraction(userID: 3, movieID: 4, timestamp: 10, to: &buffer)
        XCTAssertEqual(try EventParser.rating(from: buffer).isRetraction, true)

        let movie = MovieRecord(movieID: 7, title: "Quote \" back\\slash\nnew\u{01} é", genres: ["Sci-Fi", "Film-Noir"])
        buffer.removeAll()
        EventEncoder.appendMovie(movie, to: &buffer)
        XCTAssertEqual(try EventParser.movie(from: buffer), movie)
    }

    func testEncodedOffGridRatingIsRejectedByTheParser() {
        var buffer: [UInt8] = []
        EventEncoder.appendRating(RatingRecord(userID: 1, movieID: 1, rating: 3.7, timestamp: 0), to: &buffer)
        assertRejected(buffer, .ratingNotHalfStep)
    }
}
