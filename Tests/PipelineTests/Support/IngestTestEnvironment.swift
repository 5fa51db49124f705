import Foundation
import Kafka
import LatentTestSupport
import Pipeline
import Postgres
import XCTest

/// A migrated throw-away database for one ingest test, on the server of
/// `LATENT_TEST_DATABASE_URL`, dropped at teardown.
final class IngestTestDatabase {
    private let scratch: LatentScratchDatabase
    var serverURL: String { scratch.serverURL }
    var name: String { scratch.name }
    /// A libpq URL/conninfo that selects this database (for child processes).
    let url: String

    init(_ test: XCTestCase) throws {
        scratch = try LatentScratchDatabase(test)
        url = Self.url(scratch.serverURL, selecting: scratch.name)
        try scratch.migrated().close()
    }

    func connect() throws -> PostgresConnection { try PostgresConnection(url: url) }

    /// `server` with its database replaced by `database` (URL query parameter or conninfo keyword;
    /// libpq lets the later value win).
    static func url(_ server: String, selecting database: String) -> String {
        if server.hasPrefix("postgres://") || server.hasPrefix("postgresql://") {
            return server + (server.contains("?") ? "&" : "?") + "dbname=\(database)"
        }
        return server + " dbname=\(database)"
    }
}

/// An outage of one test database: new connections are refused and every session of it is
/// killed, until ``end()`` (called at the latest when the outage is released).
final class DatabaseOutage {
    private let admin: PostgresConnection
    private let name: String

    init(_ database: IngestTestDatabase) throws {
        admin = try PostgresConnection(url: database.serverURL)
        name = database.name
        try admin.execute("alter database \(name) with allow_connections false")
        _ = try admin.query("select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '\(name)'")
    }

    /// Accepts connections again.
    func end() throws { try admin.execute("alter database \(name) with allow_connections true") }

    deinit {
        _ = try? end()
        admin.close()
    }
}

/// An in-process mock Kafka cluster with the ratings and movies topics, plus a producer.
/// `@unchecked Sendable`: the producer and the mock cluster are thread-safe; the rest is immutable.
final class IngestTestBroker: @unchecked Sendable {
    let cluster: KafkaMockCluster
    let producer: KafkaProducer
    let ratingsTopic = "ratings"
    let moviesTopic = "movies"

    init(ratingPartitions: Int32, moviePartitions: Int32 = 2) throws {
        cluster = try KafkaMockCluster(brokers: 1)
        try cluster.createTopic(ratingsTopic, partitions: ratingPartitions)
        try cluster.createTopic(moviesTopic, partitions: moviePartitions)
        producer = try KafkaProducer(options: ["bootstrap.servers": cluster.bootstrapServers, "linger.ms": "5"])
    }

    var bootstrapServers: String { cluster.bootstrapServers }

    /// Sends and returns the payload sent.
    func send(_ payload: String, key: Int64?, topic: String? = nil) throws {
        try producer.send(topic: topic ?? ratingsTopic, key: key.map { Array(String($0).utf8) }, value: Array(payload.utf8))
    }

    func flush() throws { try producer.flush(timeoutMilliseconds: 30_000) }

    /// Low and high watermark of every partition of `topic`, asked through a short-lived consumer.
    func watermarks(topic: String, partitions: Int32) throws -> [(low: Int64, high: Int64)] {
        let probe = try KafkaConsumer(
            options: ["bootstrap.servers": bootstrapServers], groupID: "watermark-probe-\(UUID().uuidString)",
            topics: [topic], onAssign: { _ in [:] }, onRevoke: { _ in })
        defer { probe.close() }
        return try (0..<partitions).map { p in
            try probe.watermarks(TopicPartition(topic: topic, partition: p), timeoutMilliseconds: 10_000)
        }
    }
}

/// `latent ingest` as a child process.
final class IngestChild {
    let process = Process()
    let logURL: URL

    /// Starts `latent <command>` (ingest unless told) with the given extra arguments.
    init(
        database: IngestTestDatabase, broker: IngestTestBroker, group: String, command: String = "ingest", arguments: [String] = [],
        environment extra: [String: String] = [:], label: String
    ) throws {
        let binary = try LatentBinary.url()
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("latent-\(label)-\(getpid())-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = binary
        process.arguments = [command] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LATENT_DATABASE_URL"] = database.url
        environment["LATENT_KAFKA_BROKERS"] = broker.bootstrapServers
        environment["LATENT_RATINGS_TOPIC"] = broker.ratingsTopic
        environment["LATENT_MOVIES_TOPIC"] = broker.moviesTopic
        environment["LATENT_CONSUMER_GROUP"] = group
        // A SIGKILLed member is only evicted after the session timeout: keep it short.
        environment["LATENT_KAFKA_OPTION_SESSION_TIMEOUT_MS"] = "3000"
        environment["LATENT_KAFKA_OPTION_HEARTBEAT_INTERVAL_MS"] = "300"
        environment["LATENT_LOG_LEVEL"] = "info"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    func kill(_ signal: Int32) {
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
    }

    /// Waits for exit; fails the test (and kills the child) after `timeout` seconds.
    @discardableResult
    func waitForExit(timeout: Double, file: StaticString = #filePath, line: UInt = #line) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            XCTFail("latent ingest did not exit within \(Int(timeout)) s; log:\n\(log)", file: file, line: line)
            kill(SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Whether the log comes to contain `text` within `timeout` seconds (false as soon as the
    /// process has exited without writing it).
    func waitForLog(containing text: String, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !process.isRunning { return log.contains(text) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// A flag set once by one thread and read by another.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

extension PostgresConnection {
    /// The single value of a one-row, one-column query, as an integer.
    func integer(_ sql: String) throws -> Int {
        let result = try query(sql)
        guard result.rowCount == 1, let text = result[0, 0], let value = Int(text) else {
            throw PostgresError(kind: .statementFailed, message: "expected one integer from \(sql)")
        }
        return value
    }
}
