import Logging
import Postgres

/// Drops the rows of runs nobody can read any more: runs a killed process left behind, and
/// runs beyond the newest few of each model. Runs only while the training lock is held.
package struct RunRetention {
    let connection: PostgresConnection
    let logger: Logger

    /// Marks `running` and `published` runs failed (with the lock held, their process is gone:
    /// it was killed mid-publish) and drops their partitions, and every partition of a failed run.
    package func cleanUpOrphans() throws {
        let orphans = try runIDs(
            """
            update latent.model_runs set status = 'failed', finished_at = now(),
                metrics = coalesce(metrics, '{}'::jsonb) || '{"error": "the process publishing this run stopped before it finished"}'::jsonb
            where status in ('running', 'published') returning run_id
            """)
        for runID in orphans { logger.warning("orphaned run marked failed", metadata: ["run_id": "\(runID)"]) }
        try drop(try runIDs("select run_id from latent.model_runs where status = 'failed'").filter(hasRows))
    }

    /// Keeps the partitions of `count` runs of each model that published: the current run, then
    /// the newest runs that were current (rollback targets), then the newest rejected ones.
    package func keepNewest(_ count: Int) throws {
        let expired = try runIDs(
            """
            select run_id from (
                select r.run_id, row_number() over (
                    partition by r.model order by (c.run_id is not null) desc, (r.status = 'retired') desc, r.run_id desc) as position
                from latent.model_runs r left join latent.current_runs c using (run_id)
                where r.status in ('current', 'retired', 'rejected')
            ) ranked where position > \(count)
            """)
        try drop(try expired.filter(hasRows))
    }

    /// Whether any partition of run `runID` still exists.
    package func hasRows(_ runID: Int64) throws -> Bool {
        let names = RunTable.allCases.map { $0.partitionName(runID) }
        let result = try connection.query(
            "select count(*) from pg_class where relnamespace = 'latent'::regnamespace and relname = any($1::text[])",
            ["{" + names.joined(separator: ",") + "}"])
        return (Int(result[0, 0] ?? "0") ?? 0) > 0
    }

    private func drop(_ runIDs: [Int64]) throws {
        let writer = RunWriter(connection: connection, logger: logger)
        for runID in runIDs {
            try writer.drop(runID: runID)
            logger.info("dropped the rows of an old run", metadata: ["run_id": "\(runID)"])
        }
    }

    private func runIDs(_ sql: String) throws -> [Int64] {
        let result = try connection.execute(sql)
        return (0..<result.rowCount).compactMap { result[$0, 0].flatMap { Int64($0) } }
    }
}
