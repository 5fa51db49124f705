import Foundation
import Kafka
import Logging
import Postgres

/// The users whose ratings one committed batch changed (ratings or retractions).
package struct CommittedRatings: Sendable {
    package var userIDs: [Int64]
    /// When the batch committed (``MonotonicClock`` nanoseconds).
    package var committedAt: UInt64
}

/// What a run did, counted over committed batches only.
package struct IngestSummary: Sendable, CustomStringConvertible {
    package var consumed = 0
    package var accepted = 0
    package var rejected = 0
    package var batches = 0
    package var seconds = 0.0
    /// Time spent writing batches (the writer thread; overlaps with fetching).
    package var writeSeconds = 0.0
    /// Time the consumer thread waited for a writer with a full batch.
    package var waitSeconds = 0.0
    /// From the first consumed message to the end (excludes connecting and the group join).
    package var activeSeconds = 0.0

    package var eventsPerSecond: Double { seconds > 0 ? Double(consumed) / seconds : 0 }

    package var description: String {
        "consumed=\(consumed) accepted=\(accepted) rejected=\(rejected) batches=\(batches) seconds=\(String(format: "%.3f", seconds)) events_per_second=\(Int(eventsPerSecond)) "
            + "write_seconds=\(String(format: "%.3f", writeSeconds)) wait_seconds=\(String(format: "%.3f", waitSeconds)) "
            + "active_seconds=\(String(format: "%.3f", activeSeconds))"
    }
}

/// Why an ingest run, or one step of it, did not go ahead.
package enum IngestError: Error, CustomStringConvertible {
    /// A second stop request gave up a batch that could not be written.
    case stopForced
    /// The settings cannot work (e.g. the same topic for ratings and movies).
    case invalidConfiguration(String)
    /// A partition assignment arrived while a batch was still being written: the consumer keeps
    /// the partitions pending and asks again later, so the start offsets include that batch.
    case assignmentDeferred

    package var description: String {
        switch self {
        case .stopForced: return "stop forced before the last batch could be written; it will be ingested by the next run"
        case .invalidConfiguration(let message): return message
        case .assignmentDeferred: return "a batch is still being written; assignment deferred"
        }
    }
}

/// The ingest consumer loop: Kafka → parse → batch → one PostgreSQL transaction per batch.
///
/// Exactly-once into the database: the next offsets are written in the batch's transaction and
/// partitions start from them on assignment, so a crash at any instant neither loses nor
/// duplicates an event. Offsets are also committed to Kafka (asynchronously) for lag tooling.
///
/// Threads: the caller's thread polls Kafka, parses, routes each message to the batch of its
/// writer lane (by partition number) and serves rebalances; each lane's writer thread writes the
/// lane's previous batch meanwhile (one batch in flight per lane). While PostgreSQL is
/// unavailable the writers retry, full batches wait, and the partitions are paused while `poll`
/// keeps the group membership.
package final class IngestRunner {
    private final class Lane {
        var batch: IngestBatch
        let writer: IngestWriterThread
        init(batch: IngestBatch, writer: IngestWriterThread) {
            self.batch = batch
            self.writer = writer
        }
    }

    private let configuration: IngestConfiguration
    private let logger: Logger
    private let stop: IngestStop
    private let metrics = IngestMetrics()

    /// Offsets stored in PostgreSQL as far as this consumer knows (nil: no row), per assigned partition.
    private var known: [TopicPartition: Int64?] = [:]
    private var lanes: [Lane] = []
    private var summary = IngestSummary()
    private var offsetReader: PostgresConnection?
    private var consumer: KafkaConsumer?
    private var lowWatermarkWarned: Set<TopicPartition> = []
    /// Whether the assigned partitions are paused (a new assignment starts unpaused).
    private var fetchPaused = false
    /// A batch was fenced: restart from the stored offsets once every writer is idle.
    private var needsResynchronization = false
    private var firstMessageAt: UInt64 = 0
    /// When ``isCaughtUp(_:)`` last asked the broker for watermarks (monotonic nanoseconds).
    private var lastFreshWatermarkCheck: UInt64 = 0

    package init(configuration: IngestConfiguration, stop: IngestStop, logger: Logger = Logger(label: "latent.ingest")) throws {
        guard configuration.ratingsTopic != configuration.moviesTopic else {
            throw IngestError.invalidConfiguration("the ratings and movies topics must differ (both are \"\(configuration.ratingsTopic)\")")
        }
        guard configuration.maxBatchEvents > 0, configuration.maxBatchDelay > 0 else {
            throw IngestError.invalidConfiguration("batch size and delay must be positive")
        }
        guard (1...16).contains(configuration.writers) else {
            throw IngestError.invalidConfiguration("writers must be between 1 and 16, got \(configuration.writers)")
        }
        self.configuration = configuration
        self.stop = stop
        self.logger = logger
    }

    private func emptyBatch() -> IngestBatch {
        IngestBatch(ratingsTopic: configuration.ratingsTopic, moviesTopic: configuration.moviesTopic,
                    expectedCount: configuration.maxBatchEvents)
    }

    private var allWritersIdle: Bool { lanes.allSatisfy { $0.writer.isIdle } }

    /// Runs until stopped (or caught up, with ``IngestConfiguration/untilCaughtUp``).
    /// - Throws: when PostgreSQL or Kafka cannot be reached at start, on a fatal Kafka error,
    ///   or ``IngestError/stopForced``. Before it returns or throws, the consumer has left the
    ///   group and every writer thread has ended (see ``tearDown()``).
    package func run() throws -> IngestSummary {
        let started = MonotonicClock.nanoseconds()
        // Every path out, thrown or returned, goes through the ordered teardown.
        defer { tearDown() }
        try openConnections()
        let consumer = try openConsumer()
        try consumeUntilStopped(consumer)
        return try finish(consumer, started: started)
    }

    // MARK: Phases of a run

    /// Connects every writer and the offset reader first: a wrong URL fails fast with a clear
    /// message instead of retrying forever.
    private func openConnections() throws {
        for _ in 0..<configuration.writers {
            let connection = try PostgresConnection(url: configuration.databaseURL)
            let writer = IngestWriterThread(
                writer: BatchWriter(connection: connection, consumerGroup: configuration.consumerGroup), stop: stop, logger: logger,
                onCommitted: configuration.onBatchCommitted)
            lanes.append(Lane(batch: emptyBatch(), writer: writer))
        }
        offsetReader = try PostgresConnection(url: configuration.databaseURL)
    }

    /// `configured` with this consumer's defaults for what it leaves unset.
    static func consumerOptions(_ configured: [String: String]) -> [String: String] {
        var options = configured
        // Fetch large chunks: events are small and the loop batches tens of thousands.
        if options["fetch.max.bytes"] == nil { options["fetch.max.bytes"] = "67108864" }
        if options["max.partition.fetch.bytes"] == nil { options["max.partition.fetch.bytes"] = "4194304" }
        // Short long-polls: watermark queries and commits share the broker connection with fetches.
        if options["fetch.wait.max.ms"] == nil { options["fetch.wait.max.ms"] = "100" }
        // Prefetch threshold: librdkafka stops fetching and backs off (~0.5 s in 2.0) once its
        // queue holds queued.min.messages (default 100,000) — for this consumer's one queue, all
        // partitions together. A full batch per writer lane waiting for its writer lets the queue
        // reach that, so the default stalled every lane (the dev-broker benchmark consumed at
        // 150 k/s without writing anything, 650 k/s with this). Memory stays bounded by
        // queued.max.messages.kbytes (64 MB by default).
        if options["queued.min.messages"] == nil { options["queued.min.messages"] = "1000000" }
        return options
    }

    /// Joins the consumer group; assignments start from the offsets stored in PostgreSQL.
    private func openConsumer() throws -> KafkaConsumer {
        let consumer = try KafkaConsumer(
            options: Self.consumerOptions(configuration.kafkaOptions), groupID: configuration.consumerGroup,
            topics: [configuration.ratingsTopic, configuration.moviesTopic],
            // Weak: the consumer must never keep the runner alive, nor call into one being
            // released (tearDown closes it first, so these normally always find the runner).
            onAssign: { [weak self] partitions in
                guard let self else { throw CancellationError() }
                return try self.assigned(partitions)
            },
            onRevoke: { [weak self] partitions in self?.revoked(partitions) })
        self.consumer = consumer
        logger.info("ingest started", metadata: [
            "group": "\(configuration.consumerGroup)", "topics": "\(configuration.ratingsTopic),\(configuration.moviesTopic)",
            "writers": "\(configuration.writers)", "untilCaughtUp": "\(configuration.untilCaughtUp)",
        ])
        return consumer
    }

    /// Timestamps the main loop keeps between iterations (``MonotonicClock`` nanoseconds).
    private struct LoopClock {
        var lastCaughtUpCheck: UInt64 = 0
        var lastProgress: UInt64
        var lastProgressConsumed = 0
        /// When the current wait for a full lane's writer began (0: not waiting).
        var waitingSince: UInt64 = 0
    }

    /// Fetches, routes messages into lanes and submits due batches until a stop is requested
    /// or, with `untilCaughtUp`, every assigned partition is at its high watermark.
    private func consumeUntilStopped(_ consumer: KafkaConsumer) throws {
        var clock = LoopClock(lastProgress: MonotonicClock.nanoseconds())
        let maxDelay = UInt64(configuration.maxBatchDelay * 1e9)
        while !stop.isRequested {
            if needsResynchronization {
                try resynchronizeWhenIdle(consumer)
                continue
            }
            if let lane = lanes.first(where: { $0.batch.consumedCount >= configuration.maxBatchEvents && !$0.writer.isIdle }) {
                try waitForWriter(of: lane, consumer, maxDelay: maxDelay, waitingSince: &clock.waitingSince)
                continue
            }
            clock.waitingSince = 0

            let anyBuffered = lanes.contains { !$0.batch.isEmpty }
            let messages = try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: anyBuffered ? 20 : 100)
            for message in messages { route(message) }
            collectOutcomes(timeout: 0)

            let now = MonotonicClock.nanoseconds()
            submitDueLanes(now: now, maxDelay: maxDelay)
            if fetchPaused, lanes.allSatisfy({ $0.batch.consumedCount < configuration.maxBatchEvents }) {
                try consumer.resume()
                fetchPaused = false
                logger.info("fetching resumed")
            }
            if configuration.untilCaughtUp, messages.isEmpty, !lanes.contains(where: { !$0.batch.isEmpty }), allWritersIdle,
               !needsResynchronization, now - clock.lastCaughtUpCheck >= 200_000_000 {
                clock.lastCaughtUpCheck = now
                if try isCaughtUp(consumer) { break }
            }
            logProgress(now: now, clock: &clock)
        }
    }

    /// Re-reads the stored offsets once every writer is idle; until then collects outcomes and
    /// keeps polling (the messages are dropped: the resynchronization reads them again).
    private func resynchronizeWhenIdle(_ consumer: KafkaConsumer) throws {
        if allWritersIdle {
            resynchronize()
        } else {
            collectOutcomes(timeout: 0.05)
            _ = try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: 10)
        }
    }

    /// Back-pressure: `lane`'s next batch is full, so wait for its writer (other lanes keep
    /// writing). If that takes long (PostgreSQL down), stop fetching but keep polling so that
    /// rebalances are served and the group membership stays alive.
    private func waitForWriter(of lane: Lane, _ consumer: KafkaConsumer, maxDelay: UInt64, waitingSince: inout UInt64) throws {
        collectOutcomes(timeout: 0)
        submitDueLanes(now: MonotonicClock.nanoseconds(), maxDelay: maxDelay)
        let waitStarted = MonotonicClock.nanoseconds()
        let outcome = lane.writer.takeOutcome(timeout: 0.1)
        summary.waitSeconds += Double(MonotonicClock.nanoseconds() - waitStarted) / 1e9
        if let outcome {
            handle(outcome)
            return
        }
        if waitingSince == 0 { waitingSince = MonotonicClock.nanoseconds() }
        guard MonotonicClock.nanoseconds() - waitingSince > 10_000_000_000 else { return }
        if !fetchPaused {
            try consumer.pause()
            fetchPaused = true
            logger.info("waiting for PostgreSQL: fetching paused")
        }
        for message in try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: 100) { route(message) }
    }

    /// A progress line every `progressInterval` seconds.
    private func logProgress(now: UInt64, clock: inout LoopClock) {
        guard Double(now - clock.lastProgress) / 1e9 >= configuration.progressInterval else { return }
        let rate = Double(summary.consumed - clock.lastProgressConsumed) / (Double(now - clock.lastProgress) / 1e9)
        logger.info("progress", metadata: [
            "consumed": "\(summary.consumed)", "accepted": "\(summary.accepted)", "rejected": "\(summary.rejected)",
            "rate": "\(Int(rate)) events/s",
        ])
        clock.lastProgress = now
        clock.lastProgressConsumed = summary.consumed
    }

    /// Graceful end: finishes the batches in flight, writes what is buffered, commits, leaves
    /// the group.
    private func finish(_ consumer: KafkaConsumer, started: UInt64) throws -> IngestSummary {
        try drain()
        if !needsResynchronization {
            for lane in lanes where !lane.batch.isEmpty { submit(lane) }
            try drain()
        }
        consumer.close()
        let end = MonotonicClock.nanoseconds()
        summary.seconds = Double(end - started) / 1e9
        summary.activeSeconds = firstMessageAt == 0 ? 0 : Double(end - firstMessageAt) / 1e9
        logger.info("ingest stopped", metadata: ["summary": "\(summary)"])
        return summary
    }

    /// Ends a run, on every path, in an order that never calls back into a runner that is going
    /// away and leaves no thread or connection behind:
    /// 1. the writers stop retrying: a batch that cannot be written is given up (nothing
    ///    uncommitted is lost, it is read again by the next owner of its partitions);
    /// 2. the consumer leaves the group, which runs ``revoked(_:)`` while the lanes still exist;
    /// 3. the writer threads end and are joined (their connections are closed), then the
    ///    offset reader is closed.
    private func tearDown() {
        for lane in lanes { lane.writer.shutDown() }
        consumer?.close()
        for lane in lanes { lane.writer.join() }
        lanes = []
        offsetReader?.close()
        offsetReader = nil
        consumer = nil
    }

    // MARK: Batches

    @inline(__always)
    private func route(_ message: KafkaMessage) {
        if firstMessageAt == 0 { firstMessageAt = MonotonicClock.nanoseconds() }
        lanes[Int(message.partition) % lanes.count].batch.add(message)
    }

    /// Hands every full or old-enough batch to its writer if that writer is free.
    private func submitDueLanes(now: UInt64, maxDelay: UInt64) {
        guard !needsResynchronization else { return }
        for lane in lanes where !lane.batch.isEmpty && lane.writer.isIdle {
            if lane.batch.consumedCount >= configuration.maxBatchEvents || now - lane.batch.startedAt >= maxDelay {
                submit(lane)
            }
        }
    }

    private func submit(_ lane: Lane) {
        lane.batch.seal()
        var expected: [TopicPartition: Int64?] = [:]
        for tp in lane.batch.nextOffsets.keys { expected[tp] = known[tp] ?? nil }
        lane.writer.submit(lane.batch, expected: expected)
        lane.batch = emptyBatch()
    }

    private func collectOutcomes(timeout: Double) {
        for lane in lanes {
            if let outcome = lane.writer.takeOutcome(timeout: timeout) { handle(outcome) }
        }
    }

    /// Waits for every batch in flight and handles the outcomes.
    private func drain() throws {
        var forced = false
        for lane in lanes {
            while !lane.writer.isIdle {
                if let outcome = lane.writer.takeOutcome(timeout: 0.5) {
                    if case .aborted = outcome { forced = true }
                    handle(outcome)
                }
            }
        }
        if forced { throw IngestError.stopForced }
    }

    /// Waits (up to `timeout` seconds per writer) for the batches in flight; true when all are done.
    private func waitForWriters(timeout: Double) -> Bool {
        for lane in lanes where !lane.writer.isIdle {
            if let outcome = lane.writer.takeOutcome(timeout: timeout) { handle(outcome) }
        }
        return allWritersIdle
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
            summary.writeSeconds += Double(nanoseconds) / 1e9
            logger.debug("batch committed", metadata: [
                "events": "\(written.consumedCount)", "rejected": "\(written.rejectedCount)",
                "ms": "\(nanoseconds / 1_000_000)",
            ])
        case .fenced(_, let moved):
            logger.warning("\(IngestWriteError.fenced(moved)); the batch was rolled back")
            needsResynchronization = true
        case .aborted:
            break
        }
    }

    /// After a fenced batch, with every writer idle: drop what is buffered and restart every
    /// assigned partition from the offsets stored in PostgreSQL.
    private func resynchronize() {
        guard let consumer else { return }
        for lane in lanes { lane.batch = emptyBatch() }
        let assigned = consumer.assignment
        do {
            let stored = try readStoredOffsets()
            var seeks: [TopicPartition: Int64] = [:]
            for tp in assigned {
                known[tp] = stored[tp]
                seeks[tp] = stored[tp] ?? 0
            }
            try consumer.seek(seeks)
            needsResynchronization = false
        } catch {
            logger.warning("could not re-read stored offsets after a fenced batch; will retry", metadata: ["error": "\(error)"])
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    // MARK: Rebalances

    /// Start offsets for newly assigned partitions: the offsets stored in PostgreSQL (0, i.e.
    /// the earliest kept message, when none are stored). Throws to defer the assignment while
    /// a batch is still being written or PostgreSQL is unreachable.
    private func assigned(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        // Let the batches in flight commit first, so the offsets read below include them.
        guard waitForWriters(timeout: 5) else {
            throw IngestError.assignmentDeferred
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
        _ = waitForWriters(timeout: 10)
        let revoked = Set(partitions)
        for lane in lanes { lane.batch.seal() }
        let keep = lanes.contains { lane in lane.batch.nextOffsets.keys.contains { !revoked.contains($0) } }
        for lane in lanes { lane.batch = emptyBatch() }
        for tp in partitions { known[tp] = nil }
        if keep, let consumer {
            // Partitions that stay assigned had messages in the dropped batches: read them again.
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
        // Cheap first: the watermarks of the last fetch responses (no request) already show most lag.
        var allCached = true
        for tp in assigned {
            guard let cached = consumer.cachedWatermarks(tp) else { allCached = false; continue }
            if max((known[tp] ?? nil) ?? 0, cached.low) < cached.high { return false }
        }
        // Then confirm with fresh watermarks, asked in parallel (one request per partition). Fetching
        // pauses meanwhile: a broker answers a connection's requests in order, so each query would
        // otherwise queue behind a long-polling fetch (fetch.wait.max.ms). Pausing drops what
        // librdkafka prefetched, so while some partition has not had a fetch response yet (just
        // after an assignment) ask at most every 3 s: checking every 200 ms there kept the
        // benchmark's consumer from receiving anything for up to 30 s.
        let now = MonotonicClock.nanoseconds()
        guard !fetchPaused, allCached || now - lastFreshWatermarkCheck >= 3_000_000_000 else { return false }
        lastFreshWatermarkCheck = now
        try consumer.pause()
        defer {
            do {
                try consumer.resume()
            } catch {
                // Left paused, the partitions would never be fetched again: the main loop
                // retries the resume (and fails the run if that fails too).
                fetchPaused = true
                logger.warning("could not resume fetching after the watermark check; retrying", metadata: ["error": "\(error)"])
            }
        }
        let fresh = FreshWatermarks(count: assigned.count)
        DispatchQueue.concurrentPerform(iterations: min(16, assigned.count)) { worker in
            var i = worker
            while i < assigned.count {
                fresh.set(i, Result { () throws(KafkaError) in try consumer.watermarks(assigned[i], timeoutMilliseconds: 5000) })
                i += 16
            }
        }
        for (i, tp) in assigned.enumerated() {
            let marks: (low: Int64, high: Int64)
            switch fresh.get(i) {
            case .success(let value):
                marks = value
            case .failure(let error):
                logger.warning("watermark query failed; not caught up yet", metadata: ["partition": "\(tp)", "error": "\(error)"])
                return false
            case nil:
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

/// Results of parallel watermark queries. `@unchecked Sendable`: guarded by `lock`.
private final class FreshWatermarks: @unchecked Sendable {
    typealias Marks = Result<(low: Int64, high: Int64), KafkaError>
    private let lock = NSLock()
    private var values: [Marks?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Marks) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
    func get(_ i: Int) -> Marks? {
        lock.lock()
        defer { lock.unlock() }
        return values[i]
    }
}
