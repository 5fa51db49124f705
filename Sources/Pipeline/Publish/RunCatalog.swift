import Foundation
import Logging
import Postgres

/// Operator actions on published runs: list them, roll a model back (or forward) to a kept
/// run, drop a run's rows.
package struct RunCatalog {
    let connection: PostgresConnection
    let logger: Logger

    package init(connection: PostgresConnection, logger: Logger = Logger(label: "latent.runs")) {
        self.connection = connection
        self.logger = logger
    }

    /// One row of `latent runs list`.
    package struct Entry: Sendable, Equatable {
        package var runID: Int64
        package var model: String
        package var status: String
        package var startedAt: String
        package var ratings: Int?
        package var metrics: String?
        package var reason: String?
        /// Whether the run's rows still exist (so it can be promoted).
        package var hasRows: Bool
    }

    /// The newest `limit` runs, newest first, optionally of one model.
    package func list(model: String? = nil, limit: Int = 50) throws -> [Entry] {
        let result = try connection.query(
            """
            select run_id, model, status, to_char(started_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ratings_count,
                   metrics::text, reason
            from latent.model_runs where $1::text is null or model = $1 order by run_id desc limit $2::int
            """, [model, String(limit)])
        let retention = RunRetention(connection: connection, logger: logger)
        return try (0..<result.rowCount).compactMap { row in
            guard let id = result[row, 0].flatMap({ Int64($0) }), let model = result[row, 1], let status = result[row, 2] else { return nil }
            return Entry(
                runID: id, model: model, status: status, startedAt: result[row, 3] ?? "", ratings: result[row, 4].flatMap { Int($0) },
                metrics: result[row, 5], reason: result[row, 6], hasRows: try retention.hasRows(id))
        }
    }

    /// Makes run `runID` the current run of its model (rollback), without the guardrail.
    package func promote(_ runID: Int64, preferredServing: String?) throws -> ServingChoice? {
        let (model, status, metrics) = try describe(runID)
        guard [.current, .retired, .rejected, .published].contains(status) else {
            throw PublishError.notPromotable(runID: runID, status: status.rawValue, why: "only published runs have rows to show")
        }
        guard try RunRetention(connection: connection, logger: logger).hasRows(runID) else {
            throw PublishError.notPromotable(runID: runID, status: status.rawValue, why: "its rows were dropped (only the newest runs are kept)")
        }
        let outcome = try RunSwitch(connection: connection, logger: logger).switchIn(
            runID: runID, model: model, metrics: metrics, guardrail: Guardrail(), force: true, preferredServing: preferredServing)
        guard case let .current(_, serving) = outcome else {
            throw PublishError.notPromotable(runID: runID, status: status.rawValue, why: "the switch did not take place")
        }
        logger.info("run promoted", metadata: ["run_id": "\(runID)", "model": "\(model)"])
        return serving
    }

    /// Drops the rows of run `runID` (not the current run of its model); its history row stays.
    package func drop(_ runID: Int64) throws {
        let (_, status, _) = try describe(runID)
        guard status != .current else { throw PublishError.dropsCurrentRun(runID) }
        let lock = TrainingLock(connection: connection)
        guard try lock.tryAcquire() else { throw PublishError.trainingInProgress }
        defer {
            do { try lock.release() } catch { logger.error("could not release the training lock", metadata: ["error": "\(error)"]) }
        }
        try RunWriter(connection: connection, logger: logger).drop(runID: runID)
        if status == .published || status == .running {
            try ModelRunStore(connection: connection).setStatus(runID, .retired, reason: "dropped by an operator")
        }
    }

    private func describe(_ runID: Int64) throws -> (model: String, status: ModelRunStatus, metrics: RunMetrics) {
        let result = try connection.query(
            "select model, status, metrics::text from latent.model_runs where run_id = $1::bigint", [String(runID)])
        guard result.rowCount == 1, let model = result[0, 0], let text = result[0, 1], let status = ModelRunStatus(rawValue: text) else {
            throw PublishError.unknownRun(runID)
        }
        guard let json = result[0, 2], let metrics = try? JSONDecoder().decode(RunMetrics.self, from: Data(json.utf8)) else {
            throw PublishError.notPromotable(runID: runID, status: status.rawValue, why: "it has no validation metrics")
        }
        return (model, status, metrics)
    }
}
