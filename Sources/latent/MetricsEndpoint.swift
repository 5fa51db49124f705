#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Metrics
import Prometheus

/// Serves the process's swift-metrics as Prometheus text on `GET /metrics`.
///
/// A deliberately small blocking HTTP/1.0 responder on its own thread: scrapes are rare and
/// tiny, and a full HTTP stack would cost more build time than everything else in the CLI.
enum MetricsEndpoint {
    /// Bootstraps swift-metrics with a Prometheus registry. Call once, before any metric is made.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// Whether `host` is a dotted IPv4 address, the form ``serve(_:host:port:logger:)`` binds to.
    static func isIPv4Address(_ host: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, host, &address) == 1
    }

    /// Starts serving `registry` on `host:port` (port 0 disables the endpoint).
    static func serve(_ registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger) throws {
        guard port > 0 else { return }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EndpointError("socket() failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw EndpointError("metrics host '\(host)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw EndpointError("cannot listen on \(host):\(port) for metrics: errno \(code)")
        }
        logger.info("serving Prometheus metrics", metadata: ["address": "http://\(host):\(port)/metrics"])
        let thread = Thread {
            var request = [UInt8](repeating: 0, count: 4096)
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                _ = read(client, &request, request.count)
                let isMetrics = request.starts(with: Array("GET /metrics".utf8))
                let body = isMetrics ? registry.emitToBuffer() : Array("not found\n".utf8)
                let status = isMetrics ? "200 OK" : "404 Not Found"
                let head = "HTTP/1.0 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                writeAll(client, Array(head.utf8))
                writeAll(client, body)
                close(client)
            }
        }
        thread.name = "metrics-endpoint"
        thread.start()
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            offset += n
        }
    }

    struct EndpointError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
