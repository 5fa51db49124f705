import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Pipeline
import Postgres
import Prometheus

/// The HTTP surface of `latent serve` (hummingbird on SwiftNIO):
///
/// - `GET /health`: liveness (the process answers).
/// - `GET /ready`: 200 when the database answers, the consumer runs and a run is current;
///   503 with the reasons otherwise.
/// - `GET /metrics`: Prometheus text.
/// - `POST /retrain`: queues a training cycle (202).
/// - `GET /runs`: the newest runs as JSON.
package struct HTTPRoutes: Sendable {
    let databaseURL: String
    let registry: PrometheusCollectorRegistry
    let health: ServerHealth
    let requireIngest: Bool
    private let database: ProbeConnection
    private let queue = DispatchQueue(label: "latent.http.database")

    package init(databaseURL: String, registry: PrometheusCollectorRegistry, health: ServerHealth, requireIngest: Bool = true) {
        self.databaseURL = databaseURL
        self.registry = registry
        self.health = health
        self.requireIngest = requireIngest
        self.database = ProbeConnection(url: databaseURL)
    }

    /// The router with every endpoint.
    package func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in Self.text("ok\n") }
        router.get("ready") { _, _ in try await self.ready() }
        router.get("metrics") { _, _ in MetricsServer.metricsResponse(self.registry) }
        router.post("retrain") { _, _ in
            let id = try await self.withDatabase { try RetrainRequests(connection: $0).request(by: "http") }
            return Self.json(["request_id": id], status: .accepted)
        }
        router.get("runs") { _, _ in
            let entries = try await self.withDatabase { try RunCatalog(connection: $0).list(limit: 50) }
            return Self.json(entries.map(RunJSON.init), status: .ok)
        }
        return router
    }

    private func ready() async throws -> Response {
        var problems: [String] = []
        let ingest = health.ingestState
        if requireIngest, !ingest.running { problems.append("consumer: \(ingest.state)") }
        do {
            let current = try await withDatabase { try $0.execute("select count(*) from latent.current_runs")[0, 0] ?? "0" }
            if current == "0" { problems.append("no run is current yet (latent publish, or wait for the schedule)") }
        } catch {
            problems.append("database: \(error)")
        }
        return problems.isEmpty
            ? Self.json(["status": "ready"], status: .ok)
            : Self.json(["status": "not ready", "problems": problems.joined(separator: "; ")], status: .serviceUnavailable)
    }

    private func withDatabase<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let database = self.database
        return try await BlockingWork.run(on: queue) { try body(try database.connection()) }
    }

    static func text(_ body: String) -> Response {
        Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"encoding failed\"}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// One run as `/runs` shows it.
struct RunJSON: Encodable {
    var run_id: Int64
    var model: String
    var status: String
    var started_at: String
    var ratings: Int?
    var reason: String?
    var has_rows: Bool

    init(_ e: RunCatalog.Entry) {
        run_id = e.runID
        model = e.model
        status = e.status
        started_at = e.startedAt
        ratings = e.ratings
        reason = e.reason
        has_rows = e.hasRows
    }
}

/// A lazily opened connection for the HTTP handlers, used only on their serial queue (hence
/// `@unchecked Sendable`); reopened after it broke.
private final class ProbeConnection: @unchecked Sendable {
    private let url: String
    private var current: PostgresConnection?

    init(url: String) { self.url = url }

    func connection() throws -> PostgresConnection {
        if let current, current.isConnected { return current }
        let fresh = try PostgresConnection(url: url)
        current = fresh
        return fresh
    }
}
