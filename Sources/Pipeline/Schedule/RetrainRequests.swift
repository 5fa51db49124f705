import Foundation
import Postgres

/// `latent.retrain_requests`: retraining asked for outside the schedule, and the scheduled
/// cycles claimed by the instance that runs them (one row per cron tick, already taken).
package struct RetrainRequests {
    let connection: PostgresConnection

    package init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Queues a request; returns its id.
    @discardableResult
    package func request(by requester: String) throws -> Int64 {
        let result = try connection.query(
            "insert into latent.retrain_requests (requested_by) values ($1) returning request_id", [requester])
        guard let id = result[0, 0].flatMap({ Int64($0) }) else {
            throw PostgresError(kind: .statementFailed, message: "insert into latent.retrain_requests returned no request_id")
        }
        return id
    }

    /// Takes every pending request for `taker` (one cycle answers them all); true when any was pending.
    package func takePending(by taker: String) throws -> Bool {
        let result = try connection.query(
            """
            update latent.retrain_requests set taken_at = now(), taken_by = $1
            where request_id in (select request_id from latent.retrain_requests where taken_at is null for update skip locked)
            returning request_id
            """, [taker])
        return result.rowCount > 0
    }

    /// Claims the scheduled cycle due at `tick` for `taker`: true when this call recorded the
    /// claim, false when another instance already has (it ran, or runs, that cycle).
    ///
    /// Call it only while holding the training lock (``TrainingLock``): the lock is what makes
    /// the check and the insert one step across instances.
    package func claimScheduled(tick: Date, by taker: String) throws -> Bool {
        let result = try connection.query(
            """
            insert into latent.retrain_requests (requested_by, taken_at, taken_by)
            select $1, now(), $2 where not exists (select 1 from latent.retrain_requests where requested_by = $1)
            returning request_id
            """, [Self.scheduledRequester(tick), taker])
        return result.rowCount > 0
    }

    /// The `requested_by` of the scheduled cycle due at `tick` ("schedule" and the UTC instant).
    package static func scheduledRequester(_ tick: Date) -> String {
        "schedule " + ISO8601DateFormatter().string(from: tick)
    }
}
