import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import LatentServer
import LatentTestSupport
import Logging
import Models
import NIOCore
import Pipeline
import Postgres
import Prometheus
import ServiceLifecycle
import XCTest

/// The HTTP endpoints of `latent serve`, served by hummingbird on an ephemeral port against a
/// migrated scratch database.
final class HTTPRoutesTests: XCTestCase {
    func testHealthReadinessMetricsRetrainAndRuns() async throws {
        let database = try ScratchDatabase(self, prefix: "latent_server")
        let connection = try database.migrated()
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "latent_test_total").increment()
        let routes = HTTPRoutes(databaseURL: database.url, registry: registry, health: ServerHealth(), requireIngest: false)
        let bound = PortBox()
        let app = Application(
            router: routes.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.set(channel.localAddress?.port) }, logger: Logger(label: "test.http"))
        let group = ServiceGroup(services: [app], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await bound.wait()
            let base = "http://127.0.0.1:\(port)"

            let health = try await HTTP.request("GET", "\(base)/health")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health.body, "ok\n")

            let notReady = try await HTTP.request("GET", "\(base)/ready")
            XCTAssertEqual(notReady.status, 503, "no run is current yet")
            XCTAssertTrue(notReady.body.contains("no run is current"), notReady.body)

            try connection.execute("""
                insert into latent.movies (movie_id, title) select m, 'Movie ' || m from generate_series(1, 20) m;
                insert into latent.ratings (user_id, movie_id, rating, rated_at)
                select u, m, 1 + (u * m) % 5, now() from generate_series(1, 30) u, generate_series(1, 20) m where (u + m) % 3 = 0;
                """)
            var settings = PublishSettings()
            settings.listLength = 5
            let outcome = try Publisher(connection: connection).publish(.popularity, settings: settings)
            let ready = try await HTTP.request("GET", "\(base)/ready")
            XCTAssertEqual(ready.status, 200, ready.body)

            let metrics = try await HTTP.request("GET", "\(base)/metrics")
            XCTAssertEqual(metrics.status, 200)
            XCTAssertTrue(metrics.body.contains("latent_test_total 1"), metrics.body)

            let retrain = try await HTTP.request("POST", "\(base)/retrain")
            XCTAssertEqual(retrain.status, 202)
            XCTAssertTrue(retrain.body.contains("request_id"), retrain.body)
            XCTAssertEqual(try connection.execute("select count(*) from latent.retrain_requests where taken_at is null")[0, 0], "1")

            let runs = try await HTTP.request("GET", "\(base)/runs")
            XCTAssertEqual(runs.status, 200)
            let decoded = try JSONSerialization.jsonObject(with: Data(runs.body.utf8)) as? [[String: Any]]
            XCTAssertEqual(decoded?.first?["run_id"] as? Int, Int(outcome.runID))
            XCTAssertEqual(decoded?.first?["status"] as? String, "current")

            let missing = try await HTTP.request("GET", "\(base)/nowhere")
            XCTAssertEqual(missing.status, 404)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// The port the server bound, handed from its `onServerRunning` callback to the test.
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    private var waiter: CheckedContinuation<Int, any Error>?

    func set(_ value: Int?) {
        lock.lock()
        port = value
        let waiting = waiter
        waiter = nil
        lock.unlock()
        if let value { waiting?.resume(returning: value) } else { waiting?.resume(throwing: URLError(.cannotConnectToHost)) }
    }

    func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let port {
                lock.unlock()
                continuation.resume(returning: port)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

enum HTTP {
    static func request(_ method: String, _ url: String) async throws -> (status: Int, body: String) {
        guard let target = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: target)
        request.httpMethod = method
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

extension ScratchDatabase {
    /// A connection to the database, migrated.
    func migrated() throws -> PostgresConnection {
        let connection = try PostgresConnection(url: url)
        try MigrationRunner(connection: connection).migrate()
        return connection
    }
}
