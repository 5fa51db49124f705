import Foundation
import Kafka
import Logging
import Postgres

/// Settings of one `latent ingest` run.
public struct IngestConfiguration: Sendable {
    /// librdkafka properties (`bootstrap.servers`, TLS/SASL, ...).
    public var kafkaOptions: [String: String]
    public var ratingsTopic: String
    public var moviesTopic: String
    public var consumerGroup: String
    /// libpq URL or conninfo (never logged).
    public var databaseURL: String
    /// A batch is written once it holds this many messages...
    public var maxBatchEvents = 50_000
    /// ...or once its first message is this old (seconds).
    public var maxBatchDelay = 0.2
    /// Return once every assigned partition is at its high watermark.
    public var untilCaughtUp = false
    /// Seconds between progress log lines.
    public var progressInterval = 5.0

    public init(kafkaOptions: [String: String], ratingsTopic: String, moviesTopic: String, consumerGroup: String, databaseURL: String) {
        self.kafkaOptions = kafkaOptions
        self.ratingsTopic = ratingsTopic
        self.moviesTopic = moviesTopic
        self.consumerGroup = consumerGroup
        self.databaseURL = databaseURL
    }
}

/// What a run did, counted over committed batches only.
public struct IngestSummary: Sendable, CustomStringConvertible {
    public var consumed = 0
    public var accepted = 0
    public var rejected = 0
    public var batches = 0
    public var seconds = 0.0

    public var eventsPerSecond: Double { seconds > 0 ? Double(consumed) / seconds : 0 }

    public var description: String {
        "consumed=\(consumed) accepted=\(accepted) rejected=\(rejected) batches=\(batches) seconds=\(String(format: "%.3f", seconds)) events_per_second=\(Int(eventsPerSecond))"
    }
}

public enum IngestError: Error, CustomStringConvertible {
    case stopForced
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .stopForced: return "stop forced before the last batch could be written; it will be ingested by the next run"
        case .invalidConfiguration(let message): return message
        }
    }
}

/// The ingest consumer loop: Kafka → parse → batch → one PostgreSQL transaction per batch.
///
/// Exactly-once into the database: the next offsets are written in the batch's transaction and
/// partitions start from them on assignment, so a crash at any instant neither loses nor
/// duplicates an event. Offsets are also committed to Kafka (asynchronously) for lag tooling.
///
/// Threads: the caller's thread polls Kafka, parses and serves rebalances; a writer thread
/// writes the previous batch meanwhile. While PostgreSQL is unavailable the writer retries, the
/// full next batch waits, and the partitions are paused while `poll` keeps the group membership.
public final class IngestRunner {
    private let configuration: IngestConfiguration
    private let logger: Logger
    private let stop: IngestStop
    private let metrics = IngestMetrics()

    /// Offsets stored in PostgreSQL as far as this consumer knows (nil: no row), per assigned partition.
    private var known: [TopicPartition: Int64?] = [:]
    private var batch: IngestBatch
    private var summary = IngestSummary()
    private var writerThread: IngestWriterThread?
    private var offsetReader: PostgresConnection?
    private var consumer: KafkaConsumer?
    private var lowWatermarkWarned: Set<TopicPartition> = []
    /// Whether the assigned partitions are paused (a new assignment starts unpaused).
    private var fetchPaused = false

    public init(configuration: IngestConfiguration, stop: IngestStop, logger: Logger = Logger(label: "latent.ingest")) throws {
        guard configuration.ratingsTopic != configuration.moviesTopic else {
            throw IngestError.invalidConfiguration("the ratings and movies topics must differ (both are \"\(configuration.ratingsTopic)\")")
        }
        guard configuration.maxBatchEvents > 0, configuration.maxBatchDelay > 0 else {
            throw IngestError.invalidConfiguration("batch size and delay must be positive")
        }
        self.configuration = configuration
        self.stop = stop
        self.logger = logger
        self.batch = IngestBatch(ratingsTopic: configuration.ratingsTopic, moviesTopic: configuration.moviesTopic,
                                 expectedCount: configuration.maxBatchEvents)
    }

    /// Runs until stopped (or caught up, with ``IngestConfiguration/untilCaughtUp``).
    /// - Throws: when PostgreSQL or Kafka cannot be reached at start, on a fatal Kafka error,
    ///   or ``IngestError/stopForced``.
    public func run() throws -> IngestSummary {
        let started = DispatchClock.now()
        // Connect first: a wrong URL fails fast with a clear message instead of retrying forever.
        let writerConnection = try PostgresConnection(url: configuration.databaseURL)
        offsetReader = try PostgresConnection(url: configuration.databaseURL)
        let writerThread = IngestWriterThread(
            writer: BatchWriter(connection: writerConnection, consumerGroup: configuration.consumerGroup), stop: stop, logger: logger)
        self.writerThread = writerThread
        defer { writerThread.shutDown() }

        var options = configuration.kafkaOptions
        // Fetch large chunks: events are small and the loop batches tens of thousands.
        if options["fetch.max.bytes"] == nil { options["fetch.max.bytes"] = "67108864" }
        if options["max.partition.fetch.bytes"] == nil { options["max.partition.fetch.bytes"] = "4194304" }
        let consumer = try KafkaConsumer(
            options: options, groupID: configuration.consumerGroup,
            topics: [configuration.ratingsTopic, configuration.moviesTopic],
            onAssign: { [unowned self] partitions in try self.assigned(partitions) },
            onRevoke: { [unowned self] partitions in self.revoked(partitions) })
        self.consumer = consumer
        logger.info("ingest started", metadata: [
            "group": "\(configuration.consumerGroup)", "topics": "\(configuration.ratingsTopic),\(configuration.moviesTopic)",
            "untilCaughtUp": "\(configuration.untilCaughtUp)",
        ])

        var lastCaughtUpCheck: UInt64 = 0
        var lastProgress = DispatchClock.now()
        var lastProgressConsumed = 0
        let maxDelay = UInt64(configuration.maxBatchDelay * 1e9)

        var waitingSince: UInt64 = 0
        while !stop.isRequested {
            if batch.consumedCount >= configuration.maxBatchEvents, !writerThread.isIdle {
                // Back-pressure: the next batch is full, wait for the writer. If that takes long
                // (PostgreSQL down), stop fetching and keep polling so the group membership stays alive.
                if let outcome = writerThread.takeOutcome(timeout: 0.1) {
                    handle(outcome)
                    continue
                }
                if waitingSince == 0 { waitingSince = DispatchClock.now() }
                if DispatchClock.now() - waitingSince > 2_000_000_000 {
                    if !fetchPaused {
                        try consumer.pause()
                        fetchPaused = true
                        logger.info("waiting for PostgreSQL: fetching paused")
                    }
                    for message in try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: 100) { batch.add(message) }
                }
                continue
            }
            waitingSince = 0

            let pollTimeout: Int32 = batch.isEmpty ? 100 : 20
            let messages = try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: pollTimeout)
            for message in messages { batch.add(message) }

            if let outcome = writerThread.takeOutcome(timeout: 0) { handle(outcome) }

            let now = DispatchClock.now()
            let full = batch.consumedCount >= configuration.maxBatchEvents
            if !batch.isEmpty, full || now - batch.startedAt >= maxDelay, writerThread.isIdle {
                submitBatch()
                if fetchPaused {
                    try consumer.resume()
                    fetchPaused = false
                    logger.info("fetching resumed")
                }
            }

            if configuration.untilCaughtUp, messages.isEmpty, batch.isEmpty, writerThread.isIdle,
               now - lastCaughtUpCheck >= 200_000_000 {
                lastCaughtUpCheck = now
                if try isCaughtUp(consumer) { break }
            }

            if Double(now - lastProgress) / 1e9 >= configuration.progressInterval {
                let rate = Double(summary.consumed - lastProgressConsumed) / (Double(now - lastProgress) / 1e9)
                logger.info("progress", metadata: [
                    "consumed": "\(summary.consumed)", "accepted": "\(summary.accepted)", "rejected": "\(summary.rejected)",
                    "rate": "\(Int(rate)) events/s",
                ])
                lastProgress = now
                lastProgressConsumed = summary.consumed
            }
        }

        // Graceful end: finish the batch in flight, write what is buffered, commit, leave the group.
        try drain()
        if !batch.isEmpty {
            submitBatch()
            try drain()
        }
        consumer.close()
        summary.seconds = Double(DispatchClock.now() - started) / 1e9
        logger.info("ingest stopped", metadata: ["summary": "\(summary)"])
        return summary
    }

    // MARK: Batches

    private func submitBatch() {
        guard let writerThread else { return }
        batch.seal()
        var expected: [TopicPartition: Int64?] = [:]
        for tp in batch.nextOffsets.keys { expected[tp] = known[tp] ?? nil }
        writerThread.submit(batch, expected: expected)
        batch = IngestBatch(ratingsTopic: configuration.ratingsTopic, moviesTopic: configuration.moviesTopic,
                            expectedCount: configuration.maxBatchEvents)
    }

    /// Waits for the batch in flight (if any) and handles its outcome.
    private func drain() throws {
        guard let writerThread else { return }
        while !writerThread.isIdle {
            if let outcome = writerThread.takeOutcome(timeout: 0.5) {
                if case .aborted = outcome { throw IngestError.stopForced }
                handle(outcome)
            }
        }
    }

    private func handle(_ outcome: IngestWriterThread.Outcome) {
        switch outcome {
        case .written(let written, let nanoseconds):
            for (tp, next) in written.nextOffsets where known[tp] != nil || consumer?.assignment.contains(tp) == true {
                known[tp] = next
            }
            consumer?.commit(written.nextOffsets)
            metrics.recordCommitted(written, nanoseconds: nanoseconds)
            for (tp, next) in written.nextOffsets {
                if let marks = consumer?.cachedWatermarks(tp) { metrics.recordLag(tp, marks.high - next) }
            }
            summary.consumed += written.consumedCount
            summary.accepted += written.acceptedCount
            summary.rejected += written.rejectedCount
            summary.batches += 1
            logger.debug("batch committed", metadata: [
                "events": "\(written.consumedCount)", "rejected": "\(written.rejectedCount)",
                "ms": "\(nanoseconds / 1_000_000)",
            ])
        case .fenced(_, let moved):
            logger.warning("\(IngestWriteError.fenced(moved)); the batch was rolled back")
            resynchronize()
        case .aborted:
            break
        }
    }

    /// After a fenced batch: drop what is buffered and restart every assigned partition from
    /// the offsets stored in PostgreSQL.
    private func resynchronize() {
        guard let consumer else { return }
        batch = IngestBatch(ratingsTopic: configuration.ratingsTopic, moviesTopic: configuration.moviesTopic,
                            expectedCount: configuration.maxBatchEvents)
        let assigned = consumer.assignment
        do {
            let stored = try readStoredOffsets()
            var seeks: [TopicPartition: Int64] = [:]
            for tp in assigned {
                known[tp] = stored[tp]
                seeks[tp] = stored[tp] ?? 0
            }
            try consumer.seek(seeks)
        } catch {
            // A rebalance (or the next fenced batch) will try again.
            logger.warning("could not re-read stored offsets after a fenced batch", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Rebalances

    /// Start offsets for newly assigned partitions: the offsets stored in PostgreSQL (0, i.e.
    /// the earliest kept message, when none are stored). Throws to defer the assignment while
    /// a batch is still being written or PostgreSQL is unreachable.
    private func assigned(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        if let writerThread, !writerThread.isIdle {
            // Let the batch in flight commit first, so the offsets read below include it.
            if let outcome = writerThread.takeOutcome(timeout: 5) { handle(outcome) }
            guard writerThread.isIdle else {
                throw IngestError.invalidConfiguration("a batch is still being written; assignment deferred")
            }
        }
        fetchPaused = false
        let stored = try readStoredOffsets()
        var start: [TopicPartition: Int64] = [:]
        for tp in partitions {
            known[tp] = stored[tp]
            start[tp] = stored[tp] ?? 0
        }
        logger.info("partitions assigned", metadata: [
            "count": "\(partitions.count)", "withStoredOffsets": "\(partitions.filter { stored[$0] != nil }.count)",
        ])
        return start
    }

    /// Messages buffered for revoked partitions are dropped: they were not written, and the next
    /// owner reads them again from the stored offsets.
    private func revoked(_ partitions: [TopicPartition]) {
        if let writerThread, !writerThread.isIdle, let outcome = writerThread.takeOutcome(timeout: 10) {
            handle(outcome)
        }
        let revoked = Set(partitions)
        let keep = batch.nextOffsets.keys.contains { !revoked.contains($0) }
        batch = IngestBatch(ratingsTopic: configuration.ratingsTopic, moviesTopic: configuration.moviesTopic,
                            expectedCount: configuration.maxBatchEvents)
        for tp in partitions { known[tp] = nil }
        if keep, let consumer {
            // Partitions that stay assigned had messages in the dropped batch: read them again.
            var seeks: [TopicPartition: Int64] = [:]
            for tp in consumer.assignment where !revoked.contains(tp) { seeks[tp] = (known[tp] ?? nil) ?? 0 }
            do { try consumer.seek(seeks) } catch { logger.warning("could not rewind kept partitions", metadata: ["error": "\(error)"]) }
        }
        logger.info("partitions revoked", metadata: ["count": "\(partitions.count)"])
    }

    private func readStoredOffsets() throws -> [TopicPartition: Int64] {
        guard let reader = offsetReader else { return [:] }
        do {
            return try BatchWriter.storedOffsets(connection: reader, consumerGroup: configuration.consumerGroup, forUpdate: false)
        } catch let error as PostgresError where error.isConnectionBroken || !reader.isConnected {
            logger.warning("cannot read stored offsets, reconnecting", metadata: ["error": "\(error)"])
            try reader.reconnect()
            return try BatchWriter.storedOffsets(connection: reader, consumerGroup: configuration.consumerGroup, forUpdate: false)
        }
    }

    // MARK: Caught up

    /// Whether every assigned partition's stored offset reached its (freshly queried) high
    /// watermark. False until the group has assigned partitions to this member.
    private func isCaughtUp(_ consumer: KafkaConsumer) throws -> Bool {
        guard consumer.pendingAssignment.isEmpty else { return false }
        let assigned = consumer.assignment
        guard !assigned.isEmpty else { return false }
        for tp in assigned {
            let marks: (low: Int64, high: Int64)
            do {
                marks = try consumer.watermarks(tp, timeoutMilliseconds: 5000)
            } catch {
                logger.debug("watermark query failed; not caught up yet", metadata: ["partition": "\(tp)", "error": "\(error)"])
                return false
            }
            let stored = known[tp] ?? nil
            if let stored, stored < marks.low, !lowWatermarkWarned.contains(tp) {
                lowWatermarkWarned.insert(tp)
                logger.warning("messages were deleted by the broker before they were ingested", metadata: [
                    "partition": "\(tp)", "storedOffset": "\(stored)", "lowWatermark": "\(marks.low)",
                ])
            }
            if max(stored ?? 0, marks.low) < marks.high { return false }
        }
        return true
    }
}
