import Ingest
import Foundation
import Models
import Pipeline

/// A deterministic pseudo-random generator for reproducible test streams.
typealias SeededGenerator = SplitMix64

/// The expected end state of (user, movie) pairs under the ingest rule "newest ts wins"
/// (ts values are unique per pair in the generated streams, so arrival order does not matter).
struct ExpectedRatings {
    enum State: Equatable {
        case live(rating: Float, micros: Int64)
        case retracted(micros: Int64)
        var micros: Int64 {
            switch self {
            case .live(_, let micros), .retracted(let micros): return micros
            }
        }
    }

    struct Pair: Hashable { var user: Int64; var movie: Int64 }

    private(set) var states: [Pair: State] = [:]

    mutating func apply(user: Int64, movie: Int64, rating: Float?, micros: Int64) {
        let pair = Pair(user: user, movie: movie)
        if let current = states[pair], current.micros > micros { return }
        states[pair] = rating.map { .live(rating: $0, micros: micros) } ?? .retracted(micros: micros)
    }

    var live: Set<String> {
        Set(states.compactMap { pair, state in
            if case .live(let rating, let micros) = state { return "\(pair.user),\(pair.movie),\(rating),\(micros)" }
            return nil
        })
    }

    var tombstones: Set<String> {
        Set(states.compactMap { pair, state in
            if case .retracted(let micros) = state { return "\(pair.user),\(pair.movie),\(micros)" }
            return nil
        })
    }
}

/// One generated event: its payload, key, and what ingest must do with it.
struct GeneratedEvent {
    var payload: [UInt8]
    var key: Int64?
    /// The reason code it must be rejected with, or nil when valid.
    var rejection: EventRejection.Reason?
}

/// A mixed stream of valid, retracting, out-of-order and malformed rating events.
struct MixedEventStream {
    var events: [GeneratedEvent] = []
    var expected = ExpectedRatings()

    init(count: Int, users: Int64, movies: Int64, seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var usedTimestamps: Set<String> = []
        for i in 0..<count {
            let user = Int64.random(in: 1...users, using: &random)
            let movie = Int64.random(in: 1...movies, using: &random)
            var seconds: Int64
            repeat {
                seconds = Int64.random(in: 1_000_000_000...1_000_100_000, using: &random)
            } while !usedTimestamps.insert("\(user),\(movie),\(seconds)").inserted
            let roll = Int.random(in: 0..<100, using: &random)
            if roll < 12 {
                events.append(Self.malformed(i, user: user, movie: movie, seconds: seconds))
                continue
            }
            let rating: Float? = roll < 25 ? nil : Float(Int.random(in: 1...10, using: &random)) / 2
            let ratingText = rating.map { "\($0)" } ?? "null"
            // Some events use RFC 3339 timestamps (with an offset) and carry extra fields.
            let tsText: String
            if roll % 7 == 0 {
                let date = Date(timeIntervalSince1970: TimeInterval(seconds))
                let formatter = ISO8601DateFormatter()
                formatter.timeZone = TimeZone(secondsFromGMT: 3600)
                tsText = "\"\(formatter.string(from: date))\""
            } else {
                tsText = "\(seconds)"
            }
            let payload = #"{"user_id": \#(user), "movie_id": \#(movie), "rating": \#(ratingText), "ts": \#(tsText), "client": {"v": [1, "x"]}}"#
            events.append(GeneratedEvent(payload: Array(payload.utf8), key: user, rejection: nil))
            expected.apply(user: user, movie: movie, rating: rating, micros: seconds * 1_000_000)
        }
    }

    private static func malformed(_ i: Int, user: Int64, movie: Int64, seconds: Int64) -> GeneratedEvent {
        let kinds: [(String, EventRejection.Reason)] = [
            (#"{"user_id": \#(user), "movie_id": \#(movie), "rating": 4.5, "ts": \#(seconds)"#, .malformedJSON),
            (#"{"user_id": \#(user), "movie_id": \#(movie), "rating": 7, "ts": \#(seconds), "n": \#(i)}"#, .ratingOutOfRange),
            (#"{"user_id": \#(user), "movie_id": \#(movie), "rating": 3.3, "ts": \#(seconds), "n": \#(i)}"#, .ratingNotHalfStep),
            (#"{"user_id": \#(user), "movie_id": \#(movie), "rating": 3, "n": \#(i)}"#, .missingField),
            (#"{"user_id": "\#(user)", "movie_id": \#(movie), "rating": 3, "ts": \#(seconds)}"#, .wrongType),
            (#"{"user_id": -\#(user), "movie_id": \#(movie), "rating": 3, "ts": \#(seconds)}"#, .nonPositiveID),
            (#"{"user_id": \#(user), "movie_id": \#(movie), "rating": 3, "ts": "last tuesday \#(i)"}"#, .invalidTimestamp),
            ("", .emptyPayload),
            ("INVALID", .invalidUTF8),
        ]
        let (text, reason) = kinds[i % kinds.count]
        var payload = Array(text.utf8)
        if reason == .invalidUTF8 { payload = Array(#"{"user_id": 1, "note": ""#.utf8) + [0xC3, 0x28] + Array("\(i)\"}".utf8) }
        return GeneratedEvent(payload: payload, key: user, rejection: reason)
    }

    var validCount: Int { events.filter { $0.rejection == nil }.count }
    var rejectedCount: Int { events.count - validCount }

    var rejectionsByReason: [String: Int] {
        var counts: [String: Int] = [:]
        for event in events { if let reason = event.rejection { counts[reason.rawValue, default: 0] += 1 } }
        return counts
    }
}
