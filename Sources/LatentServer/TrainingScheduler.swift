import Dispatch
import Foundation
import Logging
import Metrics
import Pipeline
import Postgres
import ServiceLifecycle

/// Retrains on a cron schedule and on request (`latent retrain-now`, `POST /retrain`, both
/// queued in `latent.retrain_requests`). On graceful shutdown a cycle in progress stops at the
/// next phase boundary; its run is marked failed, never half-published.
///
/// Only one process in the cluster trains at a time: every poll first takes the training
/// advisory lock (``TrainingLock``) and keeps it for the whole cycle. An instance that finds the
/// lock held leaves its due tick and the pending requests as they are and looks again at the
/// next poll; a scheduled tick is claimed in `latent.retrain_requests` under the lock, so when
/// several instances share a schedule exactly one of them runs each tick and the others count
/// it in `latent_training_cycles_skipped_total`.
///
/// Metrics: `latent_training_cycles_total{trigger}` (cycles this process ran, by `schedule` or
/// `request`), `latent_training_cycles_skipped_total` (scheduled cycles another instance ran),
/// `latent_training_lock_busy` (1 while the last poll found another session training).
package struct TrainingScheduler: Service {
    let schedule: CronSchedule
    let cycle: TrainingCycle
    let databaseURL: String
    let instance: String
    let health: ServerHealth
    let logger: Logger
    /// How often the lock, the schedule and pending requests are looked at.
    let pollInterval: Duration = .seconds(2)

    package init(
        schedule: CronSchedule, cycle: TrainingCycle, databaseURL: String, instance: String, health: ServerHealth,
        logger: Logger = Logger(label: "latent.scheduler")
    ) {
        self.schedule = schedule
        self.cycle = cycle
        self.databaseURL = databaseURL
        self.instance = instance
        self.health = health
        self.logger = logger
    }

    package func run() async throws {
        let stopping = ShutdownFlag()
        let queue = DispatchQueue(label: "latent.scheduler")
        let url = databaseURL, logger = self.logger
        let connection = try await BlockingWork.run(on: queue) { SchedulerConnection(try PostgresConnection(url: url), logger: logger) }
        let metrics = SchedulerMetrics()
        var next = schedule.next(after: Date())
        var waitingFor: Date?
        logger.info("training schedule", metadata: ["schedule": "\(schedule)", "next": "\(next.map { "\($0)" } ?? "never")"])
        await withGracefulShutdownHandler {
            while !stopping.isRaised {
                try? await Task.sleep(for: pollInterval)
                guard !stopping.isRaised else { break }
                let due = next.flatMap { $0 <= Date() ? $0 : nil }
                guard let claim = await claim(connection, queue: queue, due: due) else { continue }
                metrics.lockBusy.record(claim.lockBusy ? 1 : 0)
                if claim.lockBusy, let due, waitingFor != due {
                    waitingFor = due
                    logger.info("training cycle due; another session holds the training lock: waiting for it", metadata: ["due": "\(due)"])
                }
                if claim.tick == .takenElsewhere {
                    metrics.skipped.increment()
                    logger.info("scheduled cycle already run by another instance: skipped here", metadata: ["due": "\(due.map { "\($0)" } ?? "")"])
                }
                if let trigger = claim.trigger {
                    metrics.cycles(trigger).increment()
                    await runCycle(connection, queue: queue, trigger: trigger, stopping: stopping)
                }
                guard !claim.lockBusy else { continue }
                if due != nil { next = schedule.next(after: Date()) }
            }
        } onGracefulShutdown: {
            logger.info("stop requested: a training cycle in progress stops at its next phase boundary")
            stopping.raise()
        }
    }

    /// Takes the training lock and decides what this poll does (nil: the database could not be
    /// asked; logged). When the claim has a trigger the lock stays held until ``runCycle`` releases it.
    private func claim(_ connection: SchedulerConnection, queue: DispatchQueue, due: Date?) async -> SchedulerConnection.Claim? {
        let instance = self.instance
        do {
            return try await BlockingWork.run(on: queue) { try connection.claim(due: due, by: instance) }
        } catch {
            logger.warning("could not look for due or requested training", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func runCycle(_ connection: SchedulerConnection, queue: DispatchQueue, trigger: SchedulerConnection.Trigger, stopping: ShutdownFlag) async {
        logger.info("training cycle starting", metadata: ["trigger": "\(trigger.rawValue)", "models": "\(cycle.models.map(\.kind.rawValue))"])
        let cycle = self.cycle, logger = self.logger
        do {
            let results = try await BlockingWork.run(on: queue) {
                try connection.runCycle(cycle, isCancelled: { stopping.isRaised })
            }
            let summary = results.map { result -> String in
                switch result {
                case .published(let o): return "\(o.model)=\(o.status.rawValue)"
                case .failed(let model, _): return "\(model)=failed"
                case .skipped(let model, _): return "\(model)=skipped"
                }
            }.joined(separator: " ")
            health.cycleFinished(summary)
            logger.info("training cycle finished", metadata: ["results": "\(summary)"])
        } catch {
            logger.error("training cycle could not run", metadata: ["error": "\(error)"])
        }
    }
}

/// The scheduler's counters (swift-metrics).
private struct SchedulerMetrics {
    let skipped = Counter(label: "latent_training_cycles_skipped_total")
    let lockBusy = Gauge(label: "latent_training_lock_busy")
    private let bySchedule = Counter(label: "latent_training_cycles_total", dimensions: [("trigger", "schedule")])
    private let byRequest = Counter(label: "latent_training_cycles_total", dimensions: [("trigger", "request")])

    func cycles(_ trigger: SchedulerConnection.Trigger) -> Counter {
        trigger == .schedule ? bySchedule : byRequest
    }
}

/// The scheduler's own connection, used only on its queue (hence `@unchecked Sendable`). Its
/// session holds the training lock from ``claim(due:by:)`` returning a claim with a trigger until
/// ``runCycle(_:isCancelled:)`` returns; each publish of the cycle takes the same lock
/// again on this session, which PostgreSQL counts, so the cycle keeps it between models.
private final class SchedulerConnection: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger

    init(_ connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    enum Trigger: String, Sendable {
        case schedule, request
    }

    /// What one poll found.
    struct Claim: Sendable {
        enum Tick: Sendable { case ours, takenElsewhere }

        /// Another session holds the training lock: nothing was taken; look again next poll.
        var lockBusy = false
        /// The due tick's claim (nil: none was due, or the lock was busy).
        var tick: Tick?
        /// Pending requests were taken by this instance.
        var requested = false

        /// Why this instance trains now (nil: it does not); the lock is then held.
        var trigger: Trigger? { tick == .ours ? .schedule : requested ? .request : nil }
    }

    func claim(due: Date?, by instance: String) throws -> Claim {
        if !connection.isConnected { try connection.reconnect() }
        let lock = TrainingLock(connection: connection)
        guard try lock.tryAcquire() else { return Claim(lockBusy: true) }
        var claim = Claim()
        var holdsForCycle = false
        defer { if !holdsForCycle { release(lock) } }
        let requests = RetrainRequests(connection: connection)
        // One transaction: a failure leaves neither the tick claimed nor the requests taken.
        try connection.transaction {
            if let due { claim.tick = try requests.claimScheduled(tick: due, by: instance) ? .ours : .takenElsewhere }
            claim.requested = try requests.takePending(by: instance)
        }
        holdsForCycle = claim.trigger != nil
        return claim
    }

    private func release(_ lock: TrainingLock) {
        do { try lock.release() } catch {
            logger.error("could not release the training lock (it goes with the connection)", metadata: ["error": "\(error)"])
        }
    }

    func runCycle(_ cycle: TrainingCycle, isCancelled: @escaping () -> Bool) throws -> [TrainingCycle.Result] {
        defer { release(TrainingLock(connection: connection)) }
        return cycle.run(on: connection, logger: logger, isCancelled: isCancelled)
    }
}
