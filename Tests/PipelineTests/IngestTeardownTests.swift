import Ingest
import Foundation
import Kafka
import Logging
import Pipeline
import Postgres
import XCTest

/// How an in-process ``IngestRunner`` ends when something fails: a thrown error, the consumer
/// closed and every writer thread ended before `run()` returns, and no crash when the runner is
/// released afterwards.
final class IngestTeardownTests: XCTestCase {
    /// The outcome of `run()` on a background thread; the runner is created and released there.
    private final class BackgroundRun: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var outcome: Result<IngestSummary, any Error>?

        init(configuration: IngestConfiguration, stop: IngestStop, logger: Logger) {
            let thread = Thread { [self] in
                let result = Result { try IngestRunner(configuration: configuration, stop: stop, logger: logger).run() }
                lock.lock()
                outcome = result
                lock.unlock()
                done.signal()
            }
            thread.start()
        }

        /// The outcome, once `run()` has returned and the runner has been released.
        func wait(seconds: Double) -> Result<IngestSummary, any Error>? {
            guard done.wait(timeout: .now() + seconds) == .success else { return nil }
            lock.lock()
            defer { lock.unlock() }
            return outcome
        }
    }

    private func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return try condition()
    }

    private func sendRatings(_ broker: IngestTestBroker, users: ClosedRange<Int64>) throws {
        for user in users {
            try broker.send(#"{"user_id":\#(user),"movie_id":1,"rating":4,"ts":1700000000}"#, key: user)
        }
        try broker.flush()
    }

    func testARunThatFailsAfterAssignmentEndsWithAnErrorAndReleasesCleanly() throws {
        let database = try IngestTestDatabase(self)
        let broker = try IngestTestBroker(ratingPartitions: 2)
        try sendRatings(broker, users: 1...50)
        var configuration = IngestConfiguration(
            kafkaOptions: ["bootstrap.servers": broker.bootstrapServers], ratingsTopic: broker.ratingsTopic,
            moviesTopic: broker.moviesTopic, consumerGroup: "teardown", databaseURL: database.url)
        configuration.maxBatchDelay = 0.05
        let stop = IngestStop()
        let log = CapturedLog()
        let run = BackgroundRun(configuration: configuration, stop: stop, logger: log.logger(label: "test.ingest"))

        // Assigned and one batch committed.
        let reader = try database.connect()
        let storedSQL = "select coalesce(sum(next_offset), 0) from latent.consumer_offsets where consumer_group = 'teardown'"
        XCTAssertTrue(try waitUntil(seconds: 60) { try reader.integer(storedSQL) >= 50 }, log.text)
        reader.close()

        // The database goes away under the running consumer: no new connections, sessions killed.
        let outage = try DatabaseOutage(database)
        defer { withExtendedLifetime(outage) {} }
        try sendRatings(broker, users: 51...60)
        XCTAssertTrue(waitUntil(seconds: 60) { !log.lines(containing: "batch not written").isEmpty }, log.text)

        // Then the stop is forced: the batch in flight cannot be written.
        stop.request()
        stop.request()
        guard let outcome = run.wait(seconds: 60) else {
            return XCTFail("run() did not return after a forced stop; log:\n\(log.text)")
        }
        switch outcome {
        case .success(let summary):
            XCTFail("run() returned \(summary) although a batch could not be written")
        case .failure(let error):
            guard case IngestError.stopForced = error else { return XCTFail("unexpected error \(error)") }
        }
        // The consumer left the group inside run(), while the runner was whole.
        XCTAssertFalse(log.lines(containing: "partitions revoked").isEmpty, "the consumer was not closed by run(); log:\n\(log.text)")
    }

    func testWritersStartedBeforeAConnectionFailureAreStoppedAndDisconnected() throws {
        let database = try IngestTestDatabase(self)
        // A role allowed two sessions: both writers connect, the offset reader cannot.
        let role = "latent_two_sessions_\(getpid())"
        let admin = try PostgresConnection(url: database.serverURL)
        defer { admin.close() }
        try admin.execute("drop role if exists \(role); create role \(role) login connection limit 2")
        let serverURL = database.serverURL
        addTeardownBlock {
            let admin = try PostgresConnection(url: serverURL)
            _ = try admin.query("select pg_terminate_backend(pid) from pg_stat_activity where usename = '\(role)'")
            try admin.execute("drop role if exists \(role)")
        }
        let sessionsSQL = "select count(*) from pg_stat_activity where usename = '\(role)'"

        var configuration = IngestConfiguration(
            kafkaOptions: ["bootstrap.servers": "127.0.0.1:1"], ratingsTopic: "ratings", moviesTopic: "movies",
            consumerGroup: "teardown", databaseURL: database.url + (database.url.contains("://") ? "&" : " ") + "user=\(role)")
        configuration.writers = 2
        let runner = try IngestRunner(configuration: configuration, stop: IngestStop())
        XCTAssertThrowsError(try runner.run()) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed, "\(error)")
        }
        // The two writers' sessions end (the server notices a closed session a moment later).
        let closed = try waitUntil(seconds: 10) { try admin.integer(sessionsSQL) == 0 }
        XCTAssertTrue(closed, "the writers' sessions are still open")
    }
}
