import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Models
import Pipeline
import Postgres
import XCTest

/// Helpers for tests that run `latent serve` as a child process and read its HTTP endpoints.
enum ServeProcess {
    /// A test database seeded like ``PublishTests`` with `models` published in order, the views
    /// serving `serving`; returns it, a connection and the published run ids.
    static func publishedDatabase(
        _ test: XCTestCase, models: [ModelConfiguration], serving: String
    ) throws -> (database: IngestTestDatabase, connection: PostgresConnection, runs: [Int64]) {
        let database = try IngestTestDatabase(test)
        let connection = try database.connect()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.serveModel = serving
        let runs = try models.map { try Publisher(connection: connection).publish($0, settings: settings).runID }
        return (database, connection, runs)
    }

    /// Polls `probe` (every 100 ms, for at most `timeout` seconds) until it returns a value;
    /// gives up early when one of `children` exits. Fails the test with their logs on timeout.
    static func waitFor<T>(
        _ what: String, children: [IngestChild], timeout: TimeInterval = 60,
        file: StaticString = #filePath, line: UInt = #line, _ probe: () throws -> T?
    ) throws -> T {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if let value = try? probe() { return value }
            guard children.allSatisfy(\.process.isRunning) else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let logs = children.enumerated().map { "serve \($0.offset) log:\n\($0.element.log)" }.joined(separator: "\n")
        XCTFail("timed out waiting for \(what); \(logs)", file: file, line: line)
        throw URLError(.timedOut)
    }

    /// The port `latent serve` logged in its "HTTP listening" line.
    static func port(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("HTTP listening") }),
              let range = line.range(of: #"port=\d+"#, options: .regularExpression) else { return nil }
        return Int(line[range].dropFirst("port=".count))
    }

    /// The sum of the samples of metric `name` in Prometheus text whose labels contain every
    /// one of `labels` (`key="value"` strings); nil when the metric is not there at all.
    static func metric(_ text: String, _ name: String, labels: [String] = []) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name) else { continue }
            let rest = line.dropFirst(name.count)
            guard rest.first == " " || rest.first == "{" else { continue }
            let labelText = rest.first == "{" ? String(rest.prefix { $0 != "}" }) : ""
            guard labels.allSatisfy({ labelText.contains($0) }), let value = rest.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + value
        }
        return total
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
