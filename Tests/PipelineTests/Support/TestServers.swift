import Foundation
import Logging
import Postgres
import XCTest

/// The optional servers some tests need beside `LATENT_TEST_DATABASE_URL`.
enum TestServers {
    /// The URL in environment variable `name`. `ops/test` (CI) always sets it and also sets
    /// `LATENT_TEST_REQUIRE_ALL=1`: then a missing URL fails the test loudly. In a developer run
    /// without it the test is skipped with a message naming the script that starts the server.
    static func url(_ name: String, startedBy script: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment[name], !url.isEmpty { return url }
        let message = "\(name) is not set: run \(script) and export the \(name) line it prints"
        if environment["LATENT_TEST_REQUIRE_ALL"] == "1" || environment["CI"] != nil {
            XCTFail(message, file: file, line: line)
            throw PostgresError(kind: .connectionFailed, message: message)
        }
        throw XCTSkip(message)
    }
}

/// A log handler that keeps every message, for tests that assert what was logged.
/// `@unchecked Sendable`: the messages are guarded by `lock`.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] = []

    /// A logger that writes here.
    func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in Handler(log: self) }
    }

    /// The messages logged so far that contain `text`.
    func lines(containing text: String) -> [String] {
        lock.withLock { messages.map(\.message).filter { $0.contains(text) } }
    }

    /// Every message with its level and metadata, one a line, for failure output.
    var text: String {
        lock.withLock { messages.map { "\($0.level) \($0.message) \($0.metadata)" }.joined(separator: "\n") }
    }

    fileprivate func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        lock.withLock { messages.append((level, message, metadata)) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(event.level, event.message.description, self.metadata.merging(event.metadata ?? [:]) { $1 })
        }
    }
}
