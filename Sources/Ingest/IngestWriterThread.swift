import Foundation
import Kafka
import Logging
import Postgres

/// Runs batch writes on a dedicated thread so that the consumer keeps fetching and parsing the
/// next batch while PostgreSQL commits the current one (at most one batch in flight).
///
/// A failed write is retried, the same batch, with exponential back-off (0.25 s doubling to
/// 10 s), reconnecting when the connection broke, until it commits, is fenced, or the stop is
/// forced. Nothing is committed while PostgreSQL is unavailable.
///
/// `@unchecked Sendable`: the job/outcome hand-over is guarded by `condition`; the
/// ``BatchWriter`` (and its connection) is used only on the writer thread.
final class IngestWriterThread: @unchecked Sendable {
    enum Outcome {
        case written(IngestBatch, nanoseconds: UInt64)
        case fenced(IngestBatch, [TopicPartition: Int64?])
        case aborted(IngestBatch)
    }

    private struct Job {
        var batch: IngestBatch
        var expected: [TopicPartition: Int64?]
    }

    private let writer: BatchWriter
    private let stop: IngestStop
    private let logger: Logger
    private let condition = NSCondition()
    private var job: Job?
    private var outcome: Outcome?
    private var busy = false
    private var shuttingDown = false
    private var finished = false
    private let onCommitted: (@Sendable (CommittedRatings) -> Void)?

    init(writer: BatchWriter, stop: IngestStop, logger: Logger, onCommitted: (@Sendable (CommittedRatings) -> Void)? = nil) {
        self.writer = writer
        self.stop = stop
        self.logger = logger
        self.onCommitted = onCommitted
        let thread = Thread { [self] in self.loop() }
        thread.name = "latent.ingest.writer"
        thread.start()
    }

    /// True when no batch is being written and no outcome waits to be collected.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !busy && outcome == nil
    }

    /// Hands a batch over. Precondition: ``isIdle``.
    func submit(_ batch: IngestBatch, expected: [TopicPartition: Int64?]) {
        condition.lock()
        precondition(!busy && outcome == nil, "a batch is already in flight")
        job = Job(batch: batch, expected: expected)
        busy = true
        condition.broadcast()
        condition.unlock()
    }

    /// The outcome of the batch in flight, waiting up to `timeout` seconds (0: just look).
    func takeOutcome(timeout: Double) -> Outcome? {
        condition.lock()
        defer { condition.unlock() }
        if outcome == nil, busy, timeout > 0 {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while outcome == nil, busy, condition.wait(until: deadline) {}
        }
        let taken = outcome
        outcome = nil
        return taken
    }

    /// Ends the thread once idle. A batch in flight gets no further attempt after a failed one
    /// (it is given up as ``Outcome/aborted(_:)``), and a back-off sleep is cut short.
    func shutDown() {
        condition.lock()
        shuttingDown = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the thread has ended and closed its connection. Call ``shutDown()`` first.
    func join() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private var isShuttingDown: Bool {
        condition.lock()
        defer { condition.unlock() }
        return shuttingDown
    }

    private func loop() {
        while true {
            condition.lock()
            while job == nil, !shuttingDown { condition.wait() }
            guard let next = job else {
                condition.unlock()
                writer.connection.close()
                condition.lock()
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            job = nil
            condition.unlock()

            let result = write(next)

            condition.lock()
            outcome = result
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }

    private func write(_ job: Job) -> Outcome {
        let started = MonotonicClock.nanoseconds()
        var attempt = 0
        while true {
            do {
                try writer.write(job.batch, expectedOffsets: job.expected)
                if let onCommitted, !job.batch.ratings.isEmpty {
                    onCommitted(CommittedRatings(userIDs: Array(Set(job.batch.ratings.map(\.userID))), committedAt: MonotonicClock.nanoseconds()))
                }
                if attempt > 0 {
                    logger.info("PostgreSQL is back: batch written", metadata: ["attempts": "\(attempt + 1)", "events": "\(job.batch.consumedCount)"])
                }
                return .written(job.batch, nanoseconds: MonotonicClock.nanoseconds() - started)
            } catch let IngestWriteError.fenced(moved) {
                return .fenced(job.batch, moved)
            } catch {
                attempt += 1
                if stop.isForced || isShuttingDown {
                    logger.error("giving up a batch that could not be written (it will be read again next time)", metadata: ["error": "\(error)"])
                    return .aborted(job.batch)
                }
                let delay = min(0.25 * pow(2, Double(min(attempt - 1, 10))), 10)
                let broken = (error as? PostgresError)?.isConnectionBroken ?? false
                logger.warning(
                    "batch not written, retrying the same batch in \(String(format: "%.2f", delay)) s (attempt \(attempt))",
                    metadata: ["error": "\(error)", "events": "\(job.batch.consumedCount)", "connectionBroken": "\(broken || !writer.connection.isConnected)"])
                sleep(seconds: delay)
                if broken || !writer.connection.isConnected {
                    do {
                        try writer.reconnect()
                        logger.info("reconnected to PostgreSQL")
                    } catch {
                        logger.warning("PostgreSQL still unavailable", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Sleeps, waking early when the stop is forced.
    private func sleep(seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        while !stop.isForced, !shuttingDown, condition.wait(until: deadline) {}
        condition.unlock()
    }
}
