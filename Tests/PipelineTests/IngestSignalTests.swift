import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LatentTestSupport
import Postgres
import XCTest

/// `latent ingest` as a ServiceGroup: the first SIGTERM finishes the batch in flight, a second
/// one gives up a batch that cannot be written, and the metrics endpoint answers a scrape
/// while another client holds a connection open.
final class IngestSignalTests: XCTestCase {
    func testASecondSignalForcesTheStopWhileABatchCannotBeWritten() throws {
        let database = try IngestTestDatabase(self)
        let broker = try IngestTestBroker(ratingPartitions: 2)
        let child = try IngestChild(database: database, broker: broker, group: "forced", arguments: ["--batch-delay-ms", "50"], label: "forced")
        defer { child.kill(SIGKILL) }
        XCTAssertTrue(child.waitForLog(containing: "partitions assigned", timeout: 30), "no assignment; log:\n\(child.log)")

        // An outage: the ingest database refuses connections and its sessions are killed.
        let outage = try DatabaseOutage(database)
        try broker.send(#"{"user_id": 1, "movie_id": 2, "rating": 4, "ts": 1700000000}"#, key: 1)
        try broker.flush()
        XCTAssertTrue(child.waitForLog(containing: "retrying the same batch", timeout: 30), "the outage was not noticed; log:\n\(child.log)")

        child.kill(SIGTERM)
        XCTAssertTrue(child.waitForLog(containing: "stop requested", timeout: 10), "no graceful shutdown; log:\n\(child.log)")
        XCTAssertTrue(child.waitForLog(containing: "signal again", timeout: 10), "the second-signal watch missed it; log:\n\(child.log)")
        XCTAssertTrue(child.process.isRunning, "the first signal must wait for the batch in flight; log:\n\(child.log)")

        child.kill(SIGTERM)
        XCTAssertEqual(child.waitForExit(timeout: 30), 1, "a forced stop with a batch given up exits 1; log:\n\(child.log)")
        XCTAssertTrue(child.log.contains("stop forced before the last batch could be written"), child.log)

        try outage.end()
        let connection = try database.connect()
        defer { connection.close() }
        XCTAssertEqual(try connection.integer("select count(*) from latent.ratings"), 0, "the given-up batch was committed")
        XCTAssertEqual(try connection.integer("select count(*) from latent.consumer_offsets"), 0)
    }

    func testMetricsAreScrapedWhileAnotherClientHoldsAConnectionOpen() throws {
        let database = try IngestTestDatabase(self)
        let broker = try IngestTestBroker(ratingPartitions: 2)
        let port = try FreePort.find()
        let child = try IngestChild(
            database: database, broker: broker, group: "metrics",
            arguments: ["--metrics-port", "\(port)", "--metrics-host", "127.0.0.1", "--batch-delay-ms", "50"], label: "metrics")
        defer { child.kill(SIGKILL) }
        XCTAssertTrue(child.waitForLog(containing: "serving Prometheus metrics", timeout: 30), "no metrics endpoint; log:\n\(child.log)")
        XCTAssertTrue(child.waitForLog(containing: "partitions assigned", timeout: 30), "no assignment; log:\n\(child.log)")
        try broker.send(#"{"user_id": 1, "movie_id": 2, "rating": 4, "ts": 1700000000}"#, key: 1)
        try broker.flush()
        // The idle client connects and sends half a request line, then nothing; every scrape
        // must still answer (within 5 s) until the batch shows.
        let idle = try IdleClient(port: port, sending: "GET /metr")
        defer { idle.close() }
        let accepted = "latent_ingest_events_accepted_total 1"
        var metrics = try BlockingHTTP.get("http://127.0.0.1:\(port)/metrics", timeout: 5)
        let deadline = Date(timeIntervalSinceNow: 30)
        while metrics.status == 200, !metrics.body.contains(accepted), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            metrics = try BlockingHTTP.get("http://127.0.0.1:\(port)/metrics", timeout: 5)
        }
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.body.contains(accepted), metrics.body)
        let health = try BlockingHTTP.get("http://127.0.0.1:\(port)/health", timeout: 5)
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.body, "ok\n")

        child.kill(SIGTERM)
        XCTAssertEqual(child.waitForExit(timeout: 30), 0, "SIGTERM must stop ingest and the endpoint, then exit 0; log:\n\(child.log)")
        XCTAssertTrue(child.log.contains("ingest: consumed=1 accepted=1"), child.log)
    }
}

/// A synchronous HTTP GET for tests that run on a plain thread.
enum BlockingHTTP {
    static func get(_ url: String, timeout: TimeInterval) throws -> (status: Int, body: String) {
        guard let target = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.timeoutInterval = timeout
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<(Int, String), any Error> = .failure(URLError(.timedOut))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                outcome = .failure(error)
            } else {
                outcome = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self)))
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + timeout + 1) == .success else { throw URLError(.timedOut) }
        let (status, body) = try outcome.get()
        return (status, body)
    }
}
