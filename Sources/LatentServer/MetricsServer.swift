import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The HTTP endpoint of `latent ingest` (hummingbird on SwiftNIO): `GET /metrics` (Prometheus
/// text of the process's swift-metrics) and `GET /health` (liveness). Every connection is
/// served on its own, so an idle client never holds up a scrape.
package enum MetricsServer {
    /// The router with `/metrics` and `/health`.
    package static func router(registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("metrics") { _, _ in metricsResponse(registry) }
        return router
    }

    /// The server as a service of a ``ServiceGroup``: it binds `host:port` when the group runs and
    /// stops on graceful shutdown. `onServerRunning` receives the bound channel (its port when
    /// `port` is 0).
    package static func service(
        registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: router(registry: registry), configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: onServerRunning, logger: logger)
    }

    /// `registry` as Prometheus text (exposition format 0.0.4).
    package static func metricsResponse(_ registry: PrometheusCollectorRegistry) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}
