import Foundation
import Models
import Postgres

/// Records training runs in `latent.model_runs`: one row per run, inserted when training starts
/// (status `running`) and completed when it ends (status `succeeded` or `failed`).
///
/// Parameters, metrics and durations are any `Encodable` value (typically a struct or a
/// `[String: Double]`), stored as `jsonb` so they can be queried with SQL.
package struct ModelRunStore {
    private let connection: PostgresConnection

    package init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Inserts a `running` row and returns its `run_id`.
    ///
    /// - Parameters:
    ///   - model: the model's name, e.g. `als`, `mf`, `baseline`.
    ///   - parameters: hyper-parameters and settings of the run.
    ///   - snapshot: the size of the training data, when known.
    ///   - newestRatedAt: the newest rating's time (epoch seconds), when known.
    package func start(
        model: String, parameters: some Encodable, snapshot: SnapshotSize? = nil, newestRatedAt: Int64? = nil,
        startedAt: Date = Date()
    ) throws -> Int64 {
        let result = try connection.query(
            """
            insert into latent.model_runs
                (model, parameters, ratings_count, users_count, movies_count, started_at, status, newest_rated_at)
            values ($1, $2::jsonb, $3::bigint, $4::int, $5::int, to_timestamp($6::double precision), $7,
                    to_timestamp($8::double precision))
            returning run_id
            """,
            [
                model, try Self.json(parameters), snapshot.map { String($0.ratings) }, snapshot.map { String($0.users) },
                snapshot.map { String($0.movies) }, String(startedAt.timeIntervalSince1970), ModelRunStatus.running.rawValue,
                newestRatedAt.map { String($0) },
            ])
        guard let text = result[0, 0], let runID = Int64(text) else {
            throw PostgresError(kind: .statementFailed, message: "insert into latent.model_runs returned no run_id")
        }
        return runID
    }

    /// Completes run `runID` with its outcome.
    ///
    /// - Parameters:
    ///   - metrics: evaluation results (e.g. `["rmse": 0.84]`); nil leaves the column NULL.
    ///   - durations: phase durations in seconds (e.g. `["load": 1.2, "fit": 30.5]`).
    ///   - snapshot: the data size, when it was not known at ``start(model:parameters:snapshot:startedAt:)``.
    package func finish(
        _ runID: Int64, status: ModelRunStatus, metrics: (some Encodable)?, durations: (some Encodable)?,
        snapshot: SnapshotSize? = nil, finishedAt: Date = Date()
    ) throws {
        var metricsJSON: String?
        if let metrics { metricsJSON = try Self.json(metrics) }
        var durationsJSON: String?
        if let durations { durationsJSON = try Self.json(durations) }
        let result = try connection.query(
            """
            update latent.model_runs set
                status = $2, metrics = $3::jsonb, durations = $4::jsonb, finished_at = to_timestamp($5::double precision),
                ratings_count = coalesce($6::bigint, ratings_count),
                users_count = coalesce($7::int, users_count),
                movies_count = coalesce($8::int, movies_count)
            where run_id = $1::bigint
            """,
            [
                String(runID), status.rawValue, metricsJSON, durationsJSON,
                String(finishedAt.timeIntervalSince1970), snapshot.map { String($0.ratings) },
                snapshot.map { String($0.users) }, snapshot.map { String($0.movies) },
            ])
        guard result.affectedRows == 1 else {
            throw PostgresError(kind: .invalidUsage, message: "latent.model_runs has no run \(runID)")
        }
    }

    /// Marks run `runID` as failed, keeping the error message in `metrics.error`.
    package func fail(_ runID: Int64, error: any Error, finishedAt: Date = Date()) throws {
        try finish(
            runID, status: .failed, metrics: ["error": String(describing: error)], durations: [String: Double]?.none,
            finishedAt: finishedAt)
    }

    /// Sets the status (and the reason, for `rejected`) of run `runID`.
    package func setStatus(_ runID: Int64, _ status: ModelRunStatus, reason: String? = nil) throws {
        let result = try connection.query(
            "update latent.model_runs set status = $2, reason = coalesce($3, reason) where run_id = $1::bigint",
            [String(runID), status.rawValue, reason])
        guard result.affectedRows == 1 else { throw PublishError.unknownRun(runID) }
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// The state recorded in `latent.model_runs.status`.
package enum ModelRunStatus: String, Sendable, CaseIterable {
    /// Training or publishing now.
    case running
    /// Trained (`latent train`), not published.
    case succeeded
    /// Rows loaded and attached, not (yet) current.
    case published
    /// The run its model's views show.
    case current
    /// Not made current by the guardrail; `reason` says why.
    case rejected
    /// Failed; `metrics.error` says why.
    case failed
    /// Was current; kept for rollback until dropped.
    case retired
}

/// The size of a training snapshot, as recorded with a run.
package struct SnapshotSize: Sendable, Equatable {
    package var ratings: Int
    package var users: Int
    package var movies: Int

    package init(ratings: Int, users: Int, movies: Int) {
        self.ratings = ratings
        self.users = users
        self.movies = movies
    }

    package init(_ dataset: Dataset) {
        self.init(ratings: dataset.ratings.count, users: dataset.users.count, movies: dataset.movies.count)
    }
}
