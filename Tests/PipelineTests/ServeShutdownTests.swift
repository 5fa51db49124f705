import Foundation
import Models
import Pipeline
import Postgres
import XCTest

/// SIGTERM while `latent serve` trains: the phase in progress finishes, the run stops at the
/// next phase boundary and is marked failed, nothing of it is published, and the process exits 0.
final class ServeShutdownTests: XCTestCase {
    func testSIGTERMDuringTrainingStopsAtAPhaseBoundaryAndMarksTheRunFailed() throws {
        let (database, connection, runs) = try ServeProcess.publishedDatabase(self, models: [.popularity], serving: "popularity")
        let current = try XCTUnwrap(runs.first)

        // Holding latent.excluded_movies stops the next run inside its top-N phase (it reads
        // the exclusions there), after fit and evaluation: a point the test can see and hold.
        let blocker = try database.connect()
        try blocker.execute("begin; lock table latent.excluded_movies in access exclusive mode")
        let broker = try IngestTestBroker(ratingPartitions: 2)
        let serve = try IngestChild(
            database: database, broker: broker, group: "shutdown-\(UUID().uuidString.prefix(8))", command: "serve",
            arguments: ["--http-port", "0", "--count", "20", "--no-ingest"],
            environment: ["LATENT_TRAIN_MODELS": "popularity"], label: "serve-shutdown")
        defer { serve.kill(SIGKILL) }
        try RetrainRequests(connection: connection).request(by: "test")

        let run = try ServeProcess.waitFor("the run to block in its top-N phase", children: [serve]) { () -> Int64? in
            let waiting = try connection.integer("""
                select count(*) from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock' and query like '%latent.excluded_movies%'
                """)
            guard waiting == 1 else { return nil }
            return try Int64(connection.integer("select run_id from latent.model_runs where status = 'running'"))
        }
        serve.kill(SIGTERM)
        _ = try ServeProcess.waitFor("the stop to reach the scheduler", children: [serve]) {
            serve.log.contains("stop requested: a training cycle in progress stops at its next phase boundary") ? true : nil
        }
        XCTAssertTrue(serve.process.isRunning, "the phase in progress is not cut short")
        try blocker.execute("rollback")

        XCTAssertEqual(serve.waitForExit(timeout: 60), 0, serve.log)
        let row = try connection.query("select status, metrics->>'error' from latent.model_runs where run_id = $1::bigint", [String(run)])
        XCTAssertEqual(row[0, 0], "failed")
        XCTAssertEqual(row[0, 1], PublishError.cancelled.description)
        XCTAssertEqual(try connection.integer("select count(*) from pg_class where relname like '%\\_r\(run)'"), 0,
                       "no partition of the cancelled run is left")
        XCTAssertEqual(try connection.integer("select run_id from latent.current_runs where model = 'popularity'"), Int(current))
        XCTAssertEqual(try connection.integer("select count(distinct run_id) from latent.recommendations"), 1)
        XCTAssertEqual(try connection.integer("select min(run_id) from latent.recommendations"), Int(current),
                       "readers still see the previous run, whole")
    }
}
