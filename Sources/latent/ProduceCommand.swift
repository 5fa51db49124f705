import Ingest
import ArgumentParser
import Foundation
import Kafka
import Logging
import Models
import Pipeline

/// `latent produce ratings|movies FILE`: publish a MovieLens file as JSON events.
struct ProduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Publish MovieLens files to Kafka as JSON events (ratings keyed by user id, movies by movie id).",
        subcommands: [Ratings.self, Movies.self])

    struct Ratings: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish ratings (ratings.csv, ratings.dat, u.data, .inter) as rating events keyed by user id.")

        @Argument(help: "The ratings file.") var file: String
        @OptionGroup var kafka: KafkaOptions

        @Option(help: "Publish at most this many events per second (default: as fast as possible).")
        var rate: Double?

        @Option(help: "Publish at most this many events.")
        var limit: Int?

        func validate() throws {
            if let rate, !(rate > 0) { throw ValidationError("--rate must be positive, got \(rate)") }
            if let limit, limit < 0 { throw ValidationError("--limit must not be negative, got \(limit)") }
        }

        func run() throws {
            let publisher = try EventPublisher(kafka: kafka, topic: kafka.ratingsTopic, rate: rate)
            var value: [UInt8] = []
            value.reserveCapacity(128)
            var key: [UInt8] = []
            let limit = self.limit ?? Int.max
            do {
                guard limit > 0 else { throw EventPublisher.LimitReached() }
                try MovieLens.forEachRating(in: file) { record in
                    value.removeAll(keepingCapacity: true)
                    EventEncoder.appendRating(record, to: &value)
                    key.removeAll(keepingCapacity: true)
                    EventEncoder.appendInteger(record.userID, to: &key)
                    try publisher.send(key: key, value: value)
                    if publisher.count >= limit { throw EventPublisher.LimitReached() }
                }
            } catch is EventPublisher.LimitReached {
                // --limit reached: stop reading the file.
            }
            try publisher.finish(what: "rating events")
        }
    }

    struct Movies: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish movies (movies.csv, movies.dat, u.item, .item) as movie events keyed by movie id.")

        @Argument(help: "The movies file.") var file: String
        @OptionGroup var kafka: KafkaOptions

        func run() throws {
            let publisher = try EventPublisher(kafka: kafka, topic: kafka.moviesTopic, rate: nil)
            var value: [UInt8] = []
            var key: [UInt8] = []
            for movie in try MovieLens.readMovies(in: file) {
                value.removeAll(keepingCapacity: true)
                EventEncoder.appendMovie(movie, to: &value)
                key.removeAll(keepingCapacity: true)
                EventEncoder.appendInteger(movie.movieID, to: &key)
                try publisher.send(key: key, value: value)
            }
            try publisher.finish(what: "movie events")
        }
    }
}

/// Sends events with optional pacing and progress lines, then flushes.
private final class EventPublisher {
    struct LimitReached: Error {}

    private let producer: KafkaProducer
    private let topic: String
    private let rate: Double?
    private let logger = Logger(label: "latent.produce")
    private let started = Date()
    private var lastProgress = Date()
    private(set) var count = 0

    init(kafka: KafkaOptions, topic: String, rate: Double?) throws {
        var options = kafka.librdkafkaOptions()
        // Throughput defaults (overridable): a deep local queue and batches of up to 1 MB.
        for (name, value) in ["queue.buffering.max.messages": "1000000", "queue.buffering.max.kbytes": "1048576",
                              "linger.ms": "20", "batch.size": "1000000"] where options[name] == nil {
            options[name] = value
        }
        producer = try KafkaProducer(options: options)
        self.topic = topic
        self.rate = rate
    }

    func send(key: [UInt8], value: [UInt8]) throws {
        try producer.send(topic: topic, key: key, value: value)
        count += 1
        if let rate {
            // Pace to the target rate: sleep until this many events are due.
            let wait = started.addingTimeInterval(Double(count) / rate).timeIntervalSinceNow
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
        }
        guard count & 1023 == 0 else { return }
        if -lastProgress.timeIntervalSinceNow >= 5 {
            lastProgress = Date()
            let seconds = -started.timeIntervalSinceNow
            logger.info("progress", metadata: ["events": "\(count)", "rate": "\(Int(Double(count) / seconds)) events/s"])
        }
    }

    func finish(what: String) throws {
        try producer.flush(timeoutMilliseconds: 120_000)
        let seconds = -started.timeIntervalSinceNow
        print("produced \(count) \(what) to \(topic) in \(String(format: "%.2f", seconds)) s (\(Int(Double(count) / max(seconds, 1e-9))) events/s)")
    }
}
