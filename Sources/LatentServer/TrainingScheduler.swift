import Dispatch
import Foundation
import Logging
import Pipeline
import Postgres
import ServiceLifecycle

/// Retrains on a cron schedule and on request (`latent retrain-now`, `POST /retrain`, both
/// queued in `latent.retrain_requests`). Only one process in the cluster trains at a time
/// (each publish takes the training advisory lock). On graceful shutdown a cycle in progress
/// stops at the next phase boundary; its run is marked failed, never half-published.
public struct TrainingScheduler: Service {
    let schedule: CronSchedule
    let cycle: TrainingCycle
    let databaseURL: String
    let instance: String
    let health: ServerHealth
    let logger: Logger
    /// How often pending requests are looked for.
    var pollInterval: Duration = .seconds(2)

    public init(
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

    public func run() async throws {
        let stopping = ShutdownFlag()
        let queue = DispatchQueue(label: "latent.scheduler")
        let url = databaseURL
        let connection = try await BlockingWork.run(on: queue) { SchedulerConnection(try PostgresConnection(url: url)) }
        var next = schedule.next(after: Date())
        logger.info("training schedule", metadata: ["schedule": "\(schedule)", "next": "\(next.map { "\($0)" } ?? "never")"])
        await withGracefulShutdownHandler {
            while !stopping.isRaised {
                try? await Task.sleep(for: pollInterval)
                guard !stopping.isRaised else { break }
                let due = next.map { $0 <= Date() } ?? false
                let requested = await takeRequests(connection, queue: queue)
                guard due || requested else { continue }
                await runCycle(connection, queue: queue, reason: due ? "schedule" : "request", stopping: stopping)
                next = schedule.next(after: Date())
            }
        } onGracefulShutdown: {
            stopping.raise()
        }
    }

    private func takeRequests(_ connection: SchedulerConnection, queue: DispatchQueue) async -> Bool {
        let instance = self.instance
        do {
            return try await BlockingWork.run(on: queue) { try connection.takeRequests(by: instance) }
        } catch {
            logger.warning("could not read retrain requests", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func runCycle(_ connection: SchedulerConnection, queue: DispatchQueue, reason: String, stopping: ShutdownFlag) async {
        logger.info("training cycle starting", metadata: ["reason": "\(reason)", "models": "\(cycle.models.map(\.kind.rawValue))"])
        let cycle = self.cycle, logger = self.logger
        do {
            let results = try await BlockingWork.run(on: queue) {
                try connection.runCycle(cycle, logger: logger, isCancelled: { stopping.isRaised })
            }
            let summary = results.map { result -> String in
                switch result {
                case .published(let o): return "\(o.model)=\(o.status.rawValue)"
                case .failed(let model, _): return "\(model)=failed"
                }
            }.joined(separator: " ")
            health.cycleFinished(summary)
            logger.info("training cycle finished", metadata: ["results": "\(summary)"])
        } catch {
            logger.error("training cycle could not run", metadata: ["error": "\(error)"])
        }
    }
}

/// The scheduler's own connection, used only on its queue (hence `@unchecked Sendable`).
private final class SchedulerConnection: @unchecked Sendable {
    let connection: PostgresConnection

    init(_ connection: PostgresConnection) { self.connection = connection }

    func takeRequests(by instance: String) throws -> Bool {
        if !connection.isConnected { try connection.reconnect() }
        return try RetrainRequests(connection: connection).takePending(by: instance)
    }

    func runCycle(_ cycle: TrainingCycle, logger: Logger, isCancelled: @escaping () -> Bool) throws -> [TrainingCycle.Result] {
        if !connection.isConnected { try connection.reconnect() }
        return cycle.run(on: connection, logger: logger, isCancelled: isCancelled)
    }
}
