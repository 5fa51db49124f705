import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Models
import Pipeline
import Postgres
import XCTest

/// `latent serve` as a process: ingest, the live refresh, on-demand retraining, HTTP, and a
/// clean stop on SIGTERM.
final class ServeTests: XCTestCase {
    func testServeRefreshesANewUsersListRetrainsOnRequestAndStopsCleanly() throws {
        let (database, connection, _) = try ServeProcess.publishedDatabase(self, models: [.popularity, PublishTests.als()], serving: "als")
        let broker = try IngestTestBroker(ratingPartitions: 2)
        let serve = try IngestChild(
            database: database, broker: broker, group: "serve-\(UUID().uuidString.prefix(8))", command: "serve",
            arguments: ["--http-port", "0", "--count", "20", "--serve-model", "als"],
            environment: ["LATENT_TRAIN_MODELS": "popularity"], label: "serve")
        defer { serve.kill(SIGKILL) }

        let port = try waitFor("the HTTP server to listen", log: serve) { ServeProcess.port(in: serve.log) }
        let base = "http://127.0.0.1:\(port)"
        XCTAssertEqual(try ServeProcess.get("\(base)/health").status, 200)
        _ = try waitFor("readiness", log: serve) { try ServeProcess.get("\(base)/ready").status == 200 ? true : nil }

        // A brand-new user rates two movies: their list appears without any retraining.
        let now = Int(Date().timeIntervalSince1970)
        try broker.send("{\"user_id\": 5000, \"movie_id\": 5, \"rating\": 5, \"ts\": \(now)}", key: 5000)
        try broker.send("{\"user_id\": 5000, \"movie_id\": 8, \"rating\": 4.5, \"ts\": \(now)}", key: 5000)
        try broker.flush()
        let listed = try waitFor("user 5000's live list", log: serve) { () -> Int? in
            let count = Int(try connection.execute("select count(*) from latent.recommendations where user_id = 5000")[0, 0] ?? "0") ?? 0
            return count == 20 ? count : nil
        }
        XCTAssertEqual(listed, 20)
        XCTAssertEqual(try connection.execute(
            "select count(*) from latent.recommendations where user_id = 5000 and movie_id in (5, 8)")[0, 0], "0")

        // On-demand retraining through the scheduler.
        let runsBefore = Int(try connection.execute("select count(*) from latent.model_runs")[0, 0] ?? "0") ?? 0
        XCTAssertEqual(try ServeProcess.request("POST", "\(base)/retrain").status, 202)
        _ = try waitFor("the requested retraining", log: serve) { () -> Bool? in
            let runs = Int(try connection.execute("select count(*) from latent.model_runs where status = 'current' or status = 'retired'")[0, 0] ?? "0") ?? 0
            return runs > runsBefore ? true : nil
        }
        // The run turns current in the database just before the cycle counts it: wait for the count.
        let metrics = try waitFor("the retraining's run counted in the metrics", log: serve) { () -> String? in
            let body = try ServeProcess.get("\(base)/metrics").body
            let counted = ServeProcess.metric(body, "latent_publish_runs_total", labels: [#"model="popularity""#, #"status="current""#]) ?? 0
            return counted >= 1 ? body : nil
        }
        for name in ["latent_live_refresh_seconds", "latent_ingest_events_consumed_total"] {
            XCTAssertTrue(metrics.contains(name), "metrics lack \(name)")
        }
        XCTAssertEqual(ServeProcess.metric(metrics, "latent_training_cycles_total", labels: [#"trigger="request""#]), 1)
        XCTAssertEqual(ServeProcess.metric(metrics, "latent_training_cycles_skipped_total"), 0)

        serve.kill(SIGTERM)
        XCTAssertEqual(serve.waitForExit(timeout: 30), 0, serve.log)
    }

    private func waitFor<T>(_ what: String, log child: IngestChild, _ probe: () throws -> T?) throws -> T {
        try ServeProcess.waitFor(what, children: [child], probe)
    }
}
