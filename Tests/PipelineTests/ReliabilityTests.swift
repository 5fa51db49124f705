import Foundation
import Kafka
import Pipeline
import Postgres
import XCTest

/// Exactly-once ingest under failures: SIGKILLed consumers, PostgreSQL outages, broker outages.
///
/// Every stream here has one event per (user, movie) pair, so the expected database content is
/// exact: one live rating per valid event, one rejected row per malformed event, and the stored
/// offsets equal to the number of messages. A re-applied committed batch would also show as row
/// updates of `latent.ratings` (a fresh pair is only ever inserted): a trigger records every
/// update in the same transaction, and the record must stay empty.
final class ReliabilityTests: XCTestCase {
    /// Unique-pair events; every `malformedEvery`-th one is malformed with a unique payload.
    private struct UniqueStream {
        var events: [(key: Int64, payload: [UInt8])] = []
        var expectedRows: Set<String> = []
        var malformedPayloads: Set<String> = []

        init(count: Int, malformedEvery: Int) {
            for i in 0..<count {
                let user = Int64(i % 997 + 1)
                let movie = Int64(i / 997 + 1)
                let payload: String
                if i % malformedEvery == malformedEvery - 1 {
                    payload = #"{"user_id": \#(user), "movie_id": \#(movie), "rating": 9, "ts": \#(1_000_000_000 + i)}"#
                    malformedPayloads.insert(payload)
                } else {
                    let rating = Double(i % 10 + 1) / 2
                    payload = #"{"user_id":\#(user),"movie_id":\#(movie),"rating":\#(rating),"ts":\#(1_000_000_000 + i)}"#
                    expectedRows.insert("\(user),\(movie),\(Self.postgresText(rating)),\(1_000_000_000 + i)")
                }
                events.append((user, Array(payload.utf8)))
            }
        }

        static func postgresText(_ rating: Double) -> String {
            rating == rating.rounded() ? String(Int(rating)) : String(rating)
        }
    }

    /// Sends `stream` from a background thread at about `rate` events/s; returns a waiter.
    private func produceInBackground(_ stream: UniqueStream, to broker: IngestTestBroker, rate: Double) -> DispatchGroup {
        let group = DispatchGroup()
        let events = stream.events
        let topic = broker.ratingsTopic
        DispatchQueue.global().async(group: group) {
            let started = Date()
            for (i, event) in events.enumerated() {
                do {
                    try broker.producer.send(topic: topic, key: Array(String(event.key).utf8), value: event.payload)
                } catch {
                    XCTFail("produce failed: \(error)")
                    return
                }
                if i % 200 == 199 {
                    let due = started.addingTimeInterval(Double(i + 1) / rate).timeIntervalSinceNow
                    if due > 0 { Thread.sleep(forTimeInterval: due) }
                }
            }
            do { try broker.flush() } catch { XCTFail("flush failed: \(error)") }
        }
        return group
    }

    /// Waits until the stored offsets of `group` add up to `total` messages.
    private func waitForStoredOffsets(_ database: IngestTestDatabase, group: String, total: Int, timeout: Double) throws -> Bool {
        let connection = try database.connect()
        defer { connection.close() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            let stored = try connection.integer("select coalesce(sum(next_offset), 0) from latent.consumer_offsets where consumer_group = '\(group)'")
            if stored >= total { return true }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return false
    }

    /// The exact-content checks shared by every test.
    private func assertExactlyOnce(
        _ stream: UniqueStream, database: IngestTestDatabase, broker: IngestTestBroker, partitions: Int32, group: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for marks in try broker.watermarks(topic: broker.ratingsTopic, partitions: partitions) {
            XCTAssertEqual(marks.low, 0, "the mock broker dropped messages: size the partitions for the volume", file: file, line: line)
        }
        let connection = try database.connect()
        let ratings = try connection.query("select user_id, movie_id, rating, extract(epoch from rated_at)::bigint from latent.ratings")
        var rows: Set<String> = []
        for row in 0..<ratings.rowCount {
            rows.insert((0..<4).map { ratings[row, $0] ?? "NULL" }.joined(separator: ","))
        }
        XCTAssertEqual(ratings.rowCount, stream.expectedRows.count, "one live rating per valid event", file: file, line: line)
        XCTAssertEqual(rows, stream.expectedRows, file: file, line: line)

        let rejected = try connection.query(#"select convert_from(payload, 'UTF8'), "offset" from latent.rejected_events"#)
        XCTAssertEqual(rejected.rowCount, stream.malformedPayloads.count, "one rejected row per malformed event", file: file, line: line)
        XCTAssertEqual(Set((0..<rejected.rowCount).compactMap { rejected[$0, 0] }), stream.malformedPayloads, file: file, line: line)

        XCTAssertEqual(ratings.rowCount + rejected.rowCount, stream.events.count, "produced = accepted + rejected", file: file, line: line)
        XCTAssertEqual(
            try connection.integer("select coalesce(sum(next_offset), 0) from latent.consumer_offsets where consumer_group = '\(group)' and topic = 'ratings'"),
            stream.events.count, "stored offsets cover every message", file: file, line: line)

        XCTAssertEqual(try connection.integer("select count(*) from public.rating_updates"), 0,
                       "a committed event was applied twice", file: file, line: line)
    }

    /// A migrated database whose `latent.ratings` records every row update in
    /// `public.rating_updates`, in the updating transaction (what `assertExactlyOnce` reads).
    private func recordingDatabase() throws -> IngestTestDatabase {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        defer { connection.close() }
        try connection.execute("""
            create table public.rating_updates (user_id bigint not null, movie_id bigint not null);
            create function public.record_rating_update() returns trigger language plpgsql as $$
            begin
                insert into public.rating_updates values (old.user_id, old.movie_id);
                return new;
            end $$;
            create trigger record_rating_update before update on latent.ratings
                for each row execute function public.record_rating_update();
            """)
        // The record sees an update (in a transaction rolled back, leaving nothing behind).
        try connection.execute("""
            begin;
            insert into latent.ratings values (0, 0, 1, to_timestamp(0));
            update latent.ratings set rating = 2 where user_id = 0 and movie_id = 0
            """)
        XCTAssertEqual(try connection.integer("select count(*) from public.rating_updates"), 1, "the update trigger does not record")
        try connection.execute("rollback")
        return database
    }

    // MARK: Tests

    func testExactlyOnceWhenTheConsumerIsKilledRepeatedly() throws {
        let partitions: Int32 = 8
        let database = try recordingDatabase()
        let broker = try IngestTestBroker(ratingPartitions: partitions)
        let stream = UniqueStream(count: 60_000, malformedEvery: 25)
        // Slow enough that events are still flowing at every kill (each restart waits for the
        // group to evict the killed member).
        let producing = produceInBackground(stream, to: broker, rate: 1_500)
        var random = SeededGenerator(seed: 7)
        let arguments = ["--batch-size", "1500", "--batch-delay-ms", "50"]
        let connection = try database.connect()
        let storedSQL = "select coalesce(sum(next_offset), 0) from latent.consumer_offsets where consumer_group = 'crash'"

        var killsWhileFlowing = 0
        for round in 0..<4 {
            let child = try IngestChild(database: database, broker: broker, group: "crash", arguments: arguments, label: "crash-\(round)")
            XCTAssertTrue(child.waitForLog(containing: "partitions assigned", timeout: 30), "no assignment; log:\n\(child.log)")
            // Wait until this process has committed at least one batch, then kill it at an arbitrary instant.
            let before = try connection.integer(storedSQL)
            let deadline = Date(timeIntervalSinceNow: 20)
            while try connection.integer(storedSQL) == before, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6, using: &random))
            child.kill(SIGKILL)
            child.waitForExit(timeout: 10)
            XCTAssertEqual(child.process.terminationReason, .uncaughtSignal)
            let stored = try connection.integer(storedSQL)
            if stored > before, stored < stream.events.count { killsWhileFlowing += 1 }
        }
        XCTAssertGreaterThanOrEqual(killsWhileFlowing, 3, "the kills should land while events are flowing and being written")
        XCTAssertEqual(producing.wait(timeout: .now() + 120), .success)

        let last = try IngestChild(database: database, broker: broker, group: "crash", arguments: arguments + ["--until-caught-up"], label: "crash-final")
        XCTAssertEqual(last.waitForExit(timeout: 120), 0, last.log)
        try assertExactlyOnce(stream, database: database, broker: broker, partitions: partitions, group: "crash")
    }

    func testNothingIsLostWhilePostgreSQLIsUnavailable() throws {
        try assertNothingLostAcrossAFault(group: "pg-outage", malformedEvery: 40) { database, _ in
            // An outage: no new connections for 4 s, and every session of the ingest database killed.
            let admin = try PostgresConnection(url: database.serverURL)
            defer { admin.close() }
            try admin.execute("alter database \(database.name) with allow_connections false")
            let terminate = "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '\(database.name)'"
            _ = try admin.query(terminate)
            Thread.sleep(forTimeInterval: 4)
            try admin.execute("alter database \(database.name) with allow_connections true")
            // And a second, instantaneous one while it catches up.
            Thread.sleep(forTimeInterval: 1)
            _ = try admin.query(terminate)
        }
    }

    /// A real restart of the server (`ops/dev/postgres restart`, the cluster `ops/test` starts).
    func testNothingIsLostWhenPostgreSQLRestarts() throws {
        try assertNothingLostAcrossAFault(group: "pg-restart", malformedEvery: 50) { database, _ in
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("ops/dev/postgres")
            let port = URLComponents(string: database.serverURL)?.port ?? 54329
            // system(), not Process: the restarted server inherits the descriptors Foundation
            // watches to notice that a child ended, so a Process would never be seen to exit.
            let status = system("LATENT_PG_PORT=\(port) '\(script.path)' restart >/dev/null 2>&1")
            XCTAssertEqual(status, 0, "ops/dev/postgres restart failed: the tests need the cluster ops/test starts")
        }
    }

    /// Events flow while `fault` disrupts PostgreSQL or the broker; the consumer must ride it
    /// out, catch up, exit 0 on SIGTERM, and have stored every event exactly once.
    /// - Parameters:
    ///   - settle: seconds of normal flow after the assignment, before the fault.
    ///   - retriesBatch: the fault fails a batch write, so the log must show the same batch retried.
    private func assertNothingLostAcrossAFault(
        group: String, malformedEvery: Int, settle: TimeInterval = 0.7, retriesBatch: Bool = true,
        _ fault: (IngestTestDatabase, IngestTestBroker) throws -> Void
    ) throws {
        let partitions: Int32 = 4
        let database = try recordingDatabase()
        let broker = try IngestTestBroker(ratingPartitions: partitions)
        let stream = UniqueStream(count: 30_000, malformedEvery: malformedEvery)
        let producing = produceInBackground(stream, to: broker, rate: 5_000)
        let child = try IngestChild(
            database: database, broker: broker, group: group, arguments: ["--batch-size", "2000", "--batch-delay-ms", "50"],
            label: group)
        XCTAssertTrue(child.waitForLog(containing: "partitions assigned", timeout: 30), "no assignment; log:\n\(child.log)")
        Thread.sleep(forTimeInterval: settle)

        try fault(database, broker)

        XCTAssertEqual(producing.wait(timeout: .now() + 120), .success)
        XCTAssertTrue(try waitForStoredOffsets(database, group: group, total: stream.events.count, timeout: 120), child.log)
        child.kill(SIGTERM)
        XCTAssertEqual(child.waitForExit(timeout: 60), 0, "SIGTERM must finish the batch and exit 0; log:\n\(child.log)")
        if retriesBatch {
            XCTAssertTrue(child.log.contains("retrying the same batch"), "the fault was not noticed; log:\n\(child.log)")
        }
        try assertExactlyOnce(stream, database: database, broker: broker, partitions: partitions, group: group)
    }

    func testNothingIsLostWhileTheBrokerIsDown() throws {
        try assertNothingLostAcrossAFault(group: "broker-outage", malformedEvery: 30, settle: 1, retriesBatch: false) { _, broker in
            try broker.cluster.setBrokerDown(1)
            Thread.sleep(forTimeInterval: 4)
            try broker.cluster.setBrokerUp(1)
        }
    }
}
