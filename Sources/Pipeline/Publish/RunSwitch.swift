import Foundation
import Logging
import Postgres

/// Makes a published run current in ONE short transaction: an UPDATE of
/// `latent.current_runs` (row locks only, so no reader waits), the runs' statuses, and the
/// serving choice. A reader's statement sees the old run or the new one, never a mix.
package struct RunSwitch {
    let connection: PostgresConnection
    let logger: Logger

    /// What ``switchIn(runID:model:metrics:guardrail:force:preferredServing:)`` did.
    package enum Outcome: Equatable {
        /// The run is current; `previous` was retired.
        case current(previous: Int64?, serving: ServingChoice?)
        /// The guardrail kept the current run; the new run is `rejected` with this reason.
        case rejected(reason: String)
    }

    /// Switches `model` to run `runID` unless the guardrail rejects it (`force` skips the
    /// guardrail), then re-chooses the serving models.
    package func switchIn(
        runID: Int64, model: String, metrics: RunMetrics, guardrail: Guardrail, force: Bool, preferredServing: String?
    ) throws -> Outcome {
        try connection.transaction {
            let current = try connection.query(
                """
                select c.run_id, r.metrics::text from latent.current_runs c join latent.model_runs r using (run_id)
                where c.model = $1 for update of c
                """, [model])
            let previous = current.rowCount > 0 ? current[0, 0].flatMap { Int64($0) } : nil
            if previous == runID { return .current(previous: nil, serving: try chooseServing(preferred: preferredServing)) }
            if !force, current.rowCount > 0, let old = currentMetrics(current[0, 1], runID: previous),
               let reason = guardrail.rejection(of: metrics, against: old) {
                try ModelRunStore(connection: connection).setStatus(runID, .rejected, reason: reason)
                return .rejected(reason: reason)
            }
            try connection.query(
                """
                insert into latent.current_runs (model, run_id) values ($1, $2::bigint)
                on conflict (model) do update set run_id = excluded.run_id, switched_at = now()
                """, [model, String(runID)])
            let store = ModelRunStore(connection: connection)
            if let previous { try store.setStatus(previous, .retired) }
            try connection.query(
                "update latent.model_runs set status = 'current', published_at = coalesce(published_at, now()) where run_id = $1::bigint",
                [String(runID)])
            return .current(previous: previous, serving: try chooseServing(preferred: preferredServing))
        }
    }

    /// The current run's validation metrics; nil (and a warning: the guardrail then cannot
    /// compare) when they are missing or unreadable.
    private func currentMetrics(_ text: String?, runID: Int64?) -> RunMetrics? {
        do {
            guard let text else { throw PublishError.unknownRun(runID ?? -1) }
            return try JSONDecoder().decode(RunMetrics.self, from: Data(text.utf8))
        } catch {
            logger.warning("the current run has no readable validation metrics; the guardrail lets the new run through", metadata: [
                "run_id": "\(runID.map(String.init) ?? "none")", "error": "\(error)",
            ])
            return nil
        }
    }

    /// Chooses the serving models among the current runs and records the choice in
    /// `latent.serving` (inside the caller's transaction).
    package func chooseServing(preferred: String?) throws -> ServingChoice? {
        let rows = try connection.query(
            """
            select c.model, r.metrics::text, coalesce(r.dimensions, 0)
            from latent.current_runs c join latent.model_runs r using (run_id) order by c.model
            """)
        var candidates: [ServingChoice.Candidate] = []
        for row in 0..<rows.rowCount {
            guard let model = rows[row, 0], let text = rows[row, 1] else { continue }
            do {
                let metrics = try JSONDecoder().decode(RunMetrics.self, from: Data(text.utf8))
                candidates.append(.init(model: model, metrics: metrics, dimensions: Int(rows[row, 2] ?? "0") ?? 0))
            } catch {
                logger.warning("current run has no readable validation metrics; it cannot serve", metadata: [
                    "model": "\(model)", "error": "\(error)",
                ])
            }
        }
        guard let choice = ServingChoice.choose(from: candidates, preferred: preferred) else { return nil }
        try record(purpose: "lists", model: choice.lists, reason: choice.listsReason)
        if let vectors = choice.vectors, let reason = choice.vectorsReason {
            try record(purpose: "vectors", model: vectors, reason: reason)
        }
        return choice
    }

    private func record(purpose: String, model: String, reason: String) throws {
        try connection.query(
            """
            insert into latent.serving (purpose, model, reason) values ($1, $2, $3)
            on conflict (purpose) do update set model = excluded.model, reason = excluded.reason,
                chosen_at = case when latent.serving.model = excluded.model then latent.serving.chosen_at else now() end
            """, [purpose, model, reason])
    }
}
