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
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.serveModel = "als"
        for model in [ModelConfiguration.popularity, PublishTests.als()] {
            _ = try Publisher(connection: connection).publish(model, settings: settings)
        }
        let broker = try IngestTestBroker(ratingPartitions: 2)
        let serve = try IngestChild(
            database: database, broker: broker, group: "serve-\(UUID().uuidString.prefix(8))", command: "serve",
            arguments: ["--http-port", "0", "--count", "20", "--serve-model", "als"],
            environment: ["LATENT_TRAIN_MODELS": "popularity"], label: "serve")
        defer { serve.kill(SIGKILL) }

        let port = try waitFor("the HTTP server to listen", log: serve) { Self.port(in: serve.log) }
        let base = "http://127.0.0.1:\(port)"
        XCTAssertEqual(try Self.get("\(base)/health").status, 200)
        _ = try waitFor("readiness", log: serve) { try Self.get("\(base)/ready").status == 200 ? true : nil }

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
        XCTAssertEqual(try Self.request("POST", "\(base)/retrain").status, 202)
        _ = try waitFor("the requested retraining", log: serve) { () -> Bool? in
            let runs = Int(try connection.execute("select count(*) from latent.model_runs where status = 'current' or status = 'retired'")[0, 0] ?? "0") ?? 0
            return runs > runsBefore ? true : nil
        }
        let metrics = try Self.get("\(base)/metrics").body
        for name in ["latent_live_refresh_seconds", "latent_publish_runs_total", "latent_ingest_events_consumed_total"] {
            XCTAssertTrue(metrics.contains(name), "metrics lack \(name)")
        }

        serve.kill(SIGTERM)
        XCTAssertEqual(serve.waitForExit(timeout: 30), 0, serve.log)
    }

    /// Polls `probe` (every 100 ms, for at most 60 s) until it returns a value.
    private func waitFor<T>(_ what: String, log child: IngestChild, _ probe: () throws -> T?) throws -> T {
        let deadline = Date(timeIntervalSinceNow: 60)
        while Date() < deadline {
            if let value = try? probe() { return value }
            guard child.process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("timed out waiting for \(what); serve log:\n\(child.log)")
        throw URLError(.timedOut)
    }

    static func port(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("HTTP listening") }),
              let range = line.range(of: #"port=\d+"#, options: .regularExpression) else { return nil }
        return Int(line[range].dropFirst("port=".count))
    }

    static func get(_ url: String) throws -> (status: Int, body: String) { try request("GET", url) }

    static func request(_ method: String, _ url: String) throws -> (status: Int, body: String) {
        guard let target = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.timeoutInterval = 10
        let done = DispatchSemaphore(value: 0)
        let box = ResponseBox()
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.set(status: (response as? HTTPURLResponse)?.statusCode, data: data, error: error)
            done.signal()
        }.resume()
        done.wait()
        return try box.result()
    }
}

private final class ResponseBox: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int?
    private var data: Data?
    private var error: (any Error)?

    func set(status: Int?, data: Data?, error: (any Error)?) {
        lock.withLock { self.status = status; self.data = data; self.error = error }
    }

    func result() throws -> (status: Int, body: String) {
        try lock.withLock {
            if let error { throw error }
            return (status ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
        }
    }
}
