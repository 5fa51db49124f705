import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LatentServer
import LatentTestSupport
import Logging
import Prometheus
import ServiceLifecycle
import XCTest

/// `latent ingest`'s metrics endpoint: hummingbird serves each connection on its own, so a
/// client that connects and goes quiet (the old blocking responder's undoing) delays nothing.
final class MetricsServerTests: XCTestCase {
    func testAScrapeIsAnsweredWhileAnotherClientIdles() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "latent_test_scrapes_total").increment()
        let bound = PortBox()
        let server = MetricsServer.service(registry: registry, host: "127.0.0.1", port: 0, logger: Logger(label: "test.metrics")) { channel in
            bound.set(channel.localAddress?.port)
        }
        let group = ServiceGroup(services: [server], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await bound.wait()
            // Half a request line, then silence.
            let idle = try IdleClient(port: port, sending: "GET /metr")
            defer { idle.close() }

            let metrics = try await HTTP.request("GET", "http://127.0.0.1:\(port)/metrics")
            XCTAssertEqual(metrics.status, 200)
            XCTAssertTrue(metrics.body.contains("latent_test_scrapes_total 1"), metrics.body)
            let health = try await HTTP.request("GET", "http://127.0.0.1:\(port)/health")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health.body, "ok\n")
            let missing = try await HTTP.request("GET", "http://127.0.0.1:\(port)/ready")
            XCTAssertEqual(missing.status, 404, "ingest's endpoint serves /metrics and /health only")

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
