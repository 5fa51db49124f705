import Foundation
import Kafka
import Records

/// The events of one ingest batch, parsed, deduplicated and ready to write in one transaction.
///
/// Ratings are kept in arrival order and deduplicated per (user, movie) when written
/// (``latestRatings()``): the newest `ts` wins, and on a tie the later arrival (the later offset
/// within a partition) wins. Deduplicating by sorting on the writer's thread, which sorts by key
/// anyway, keeps hashing off the consumer thread that parses every event. Movies: the later
/// arrival wins. Every consumed message is either accepted or rejected, and ``nextOffsets`` covers all
/// of them, so the batch's transaction accounts for each offset exactly once.
public struct IngestBatch: Sendable {
    /// One (user, movie) entry to merge; `rating` nil retracts.
    public struct StagedRating: Sendable, Equatable {
        public var userID: Int64
        public var movieID: Int64
        public var rating: Float?
        public var timestampMicros: Int64
    }

    /// A message that failed validation, kept verbatim for `latent.rejected_events`.
    public struct RejectedMessage: Sendable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var key: [UInt8]?
        public var payload: [UInt8]
        public var rejection: EventRejection
    }

    public let ratingsTopic: String
    public let moviesTopic: String

    /// Valid rating events in arrival order, not deduplicated (see ``latestRatings()``).
    public private(set) var ratings: [StagedRating] = []
    public private(set) var movies: [MovieRecord] = []
    private var movieSlots: [Int64: Int] = [:]
    public private(set) var rejected: [RejectedMessage] = []
    /// Offset of the next message to read, per partition touched by the batch.
    public private(set) var nextOffsets: [TopicPartition: Int64] = [:]

    /// Messages added (accepted + rejected).
    public private(set) var consumedCount = 0
    /// Valid events added, including those superseded within the batch.
    public private(set) var acceptedCount = 0
    /// When the first message was added (monotonic nanoseconds), 0 when empty.
    public private(set) var startedAt: UInt64 = 0

    private var lastPartition: TopicPartition?
    private var lastNextOffset: Int64 = 0

    public init(ratingsTopic: String, moviesTopic: String, expectedCount: Int = 0) {
        self.ratingsTopic = ratingsTopic
        self.moviesTopic = moviesTopic
        if expectedCount > 0 { ratings.reserveCapacity(expectedCount) }
    }

    public var isEmpty: Bool { consumedCount == 0 }
    public var rejectedCount: Int { rejected.count }

    /// Parses and adds one consumed message.
    public mutating func add(_ message: KafkaMessage) {
        if consumedCount == 0 { startedAt = MonotonicClock.nanoseconds() }
        consumedCount += 1
        notePosition(topic: message.topic, partition: message.partition, offset: message.offset)
        let outcome: EventRejection?
        if message.topic == ratingsTopic {
            let parsed: Result<RatingEvent, EventRejection> = message.payload.withUnsafeBytes { raw in
                do throws(EventRejection) { return .success(try EventParser.rating(from: raw)) } catch { return .failure(error) }
            }
            switch parsed {
            case .success(let event): addRating(event); outcome = nil
            case .failure(let rejection): outcome = rejection
            }
        } else if message.topic == moviesTopic {
            let parsed: Result<MovieRecord, EventRejection> = message.payload.withUnsafeBytes { raw in
                do throws(EventRejection) { return .success(try EventParser.movie(from: raw)) } catch { return .failure(error) }
            }
            switch parsed {
            case .success(let movie): addMovie(movie); outcome = nil
            case .failure(let rejection): outcome = rejection
            }
        } else {
            outcome = EventRejection(.wrongType, "message from topic \"\(message.topic)\", which is neither the ratings nor the movies topic")
        }
        if let outcome {
            rejected.append(RejectedMessage(
                topic: message.topic, partition: message.partition, offset: message.offset,
                key: message.key, payload: message.payload, rejection: outcome))
        }
    }

    /// Adds a valid rating event.
    public mutating func addRating(_ event: RatingEvent) {
        acceptedCount += 1
        ratings.append(StagedRating(userID: event.userID, movieID: event.movieID, rating: event.rating, timestampMicros: event.timestampMicros))
    }

    /// One rating per (user, movie), in key order: the newest `ts`, on a tie the later arrival.
    public func latestRatings() -> [StagedRating] {
        guard !ratings.isEmpty else { return [] }
        // Sort arrival positions by (user, movie, ts, arrival); the last of each pair's run wins.
        var order = Array(ratings.indices)
        ratings.withUnsafeBufferPointer { staged in
            order.sort { a, b in
                let x = staged[a], y = staged[b]
                if x.userID != y.userID { return x.userID < y.userID }
                if x.movieID != y.movieID { return x.movieID < y.movieID }
                if x.timestampMicros != y.timestampMicros { return x.timestampMicros < y.timestampMicros }
                return a < b
            }
        }
        var latest: [StagedRating] = []
        latest.reserveCapacity(ratings.count)
        for (n, i) in order.enumerated() {
            let staged = ratings[i]
            if n + 1 < order.count {
                let next = ratings[order[n + 1]]
                if next.userID == staged.userID && next.movieID == staged.movieID { continue }
            }
            latest.append(staged)
        }
        return latest
    }

    /// Adds a valid movie event (the later one wins).
    public mutating func addMovie(_ movie: MovieRecord) {
        acceptedCount += 1
        if let slot = movieSlots[movie.movieID] {
            movies[slot] = movie
        } else {
            movieSlots[movie.movieID] = movies.count
            movies.append(movie)
        }
    }

    private mutating func notePosition(topic: String, partition: Int32, offset: Int64) {
        // Messages arrive in runs from one partition: avoid a dictionary update per message.
        if let last = lastPartition, last.partition == partition, last.topic == topic {
            lastNextOffset = max(lastNextOffset, offset + 1)
            return
        }
        flushPosition()
        let tp = TopicPartition(topic: topic, partition: partition)
        lastPartition = tp
        lastNextOffset = max(nextOffsets[tp] ?? 0, offset + 1)
    }

    private mutating func flushPosition() {
        if let last = lastPartition { nextOffsets[last] = max(nextOffsets[last] ?? 0, lastNextOffset) }
    }

    /// Finalises bookkeeping; call before writing.
    public mutating func seal() {
        flushPosition()
        lastPartition = nil
    }
}
