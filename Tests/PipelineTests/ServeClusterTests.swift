import Foundation
import Models
@testable import Pipeline
import Postgres
import XCTest

/// Two `latent serve` instances against one database and one consumer group: both consume
/// (the group spreads the partitions), exactly one runs a scheduled training cycle and the
/// other skips it cleanly.
final class ServeClusterTests: XCTestCase {
    func testTwoInstancesBothConsumeAndExactlyOneTrainsAScheduledCycle() throws {
        let (database, connection, _) = try ServeProcess.publishedDatabase(self, models: [.popularity], serving: "popularity")
        let runsBefore = try connection.integer("select max(run_id) from latent.model_runs")

        // The test holds the training lock over the tick, so both instances find the cycle due
        // while it is held and race for it the moment it is released.
        let lockHolder = try database.connect()
        XCTAssertTrue(try TrainingLock(connection: lockHolder).tryAcquire())
        let tick = Self.tick(atLeast: 25)
        let broker = try IngestTestBroker(ratingPartitions: 4)
        let group = "cluster-\(UUID().uuidString.prefix(8))"
        let instances = try (0..<2).map { index in
            try IngestChild(
                database: database, broker: broker, group: group, command: "serve",
                arguments: ["--http-port", "0", "--count", "20", "--schedule", tick.cron, "--timezone", "UTC"],
                environment: ["LATENT_TRAIN_MODELS": "popularity"], label: "serve\(index)")
        }
        defer { for instance in instances { instance.kill(SIGKILL) } }
        let bases = try instances.map { instance in
            "http://127.0.0.1:\(try ServeProcess.waitFor("the HTTP server", children: instances) { ServeProcess.port(in: instance.log) })"
        }

        // Both consume: once the group has split the partitions between them, events keyed to
        // many users reach both.
        _ = try ServeProcess.waitFor("both instances to hold partitions", children: instances) { () -> Bool? in
            let counts = instances.map { Self.ratingsPartitions(in: $0.log) ?? 0 }
            return counts.allSatisfy { $0 > 0 } && counts.reduce(0, +) == 4 ? true : nil
        }
        let users = Int64(30_001)...Int64(30_200)
        for user in users {
            try broker.send("{\"user_id\": \(user), \"movie_id\": \(user % 150 + 1), \"rating\": 4, \"ts\": 1700000000}", key: user)
        }
        try broker.flush()
        _ = try ServeProcess.waitFor("every event stored", children: instances) { () -> Bool? in
            try connection.integer("select count(*) from latent.ratings where user_id between 30001 and 30200") == users.count ? true : nil
        }
        // The counters follow each batch's commit: wait until they account for every event.
        let consumed = try ServeProcess.waitFor("the consumed counts", children: instances) { () -> [Double]? in
            let counts = try bases.map { ServeProcess.metric(try ServeProcess.get("\($0)/metrics").body, "latent_ingest_events_consumed_total") ?? 0 }
            return counts.reduce(0, +) >= Double(users.count) ? counts : nil
        }
        XCTAssertTrue(consumed.allSatisfy { $0 > 0 }, "each instance consumed a share: \(consumed)")
        XCTAssertEqual(consumed.reduce(0, +), Double(users.count), "no event was consumed twice")

        // The tick passes while the lock is held: both wait (and say so), neither fails.
        for instance in instances {
            _ = try ServeProcess.waitFor("the due cycle to wait for the lock", children: instances, timeout: 90) {
                instance.log.contains("another session holds the training lock: waiting for it") ? true : nil
            }
        }
        try TrainingLock(connection: lockHolder).release()

        let outcomes = try ServeProcess.waitFor("the cycle to be run by one and skipped by the other", children: instances) { () -> [Outcome]? in
            let outcomes = try bases.map { try Outcome(metrics: ServeProcess.get("\($0)/metrics").body) }
            return outcomes.allSatisfy { $0.ran + $0.skipped >= 1 } ? outcomes : nil
        }
        XCTAssertEqual(outcomes.map(\.ran).sorted(), [0, 1], "exactly one instance trains: \(outcomes)")
        XCTAssertEqual(outcomes.map(\.skipped).sorted(), [0, 1], "the other skips the cycle: \(outcomes)")
        XCTAssertEqual(outcomes.map(\.failedPublishes), [0, 0], "nobody fails for want of the lock")
        XCTAssertEqual(outcomes.map(\.lockBusy), [0, 0], "nobody keeps waiting once the cycle is done")
        let winner = try XCTUnwrap(outcomes.firstIndex { $0.ran == 1 })

        let runs = try connection.query("select model, status from latent.model_runs where run_id > $1::bigint", [String(runsBefore)])
        XCTAssertEqual(runs.rowCount, 1, "one training run for the tick")
        XCTAssertEqual(runs[0, 0], "popularity")
        XCTAssertEqual(runs[0, 1], "current")
        let claim = try connection.query(
            "select taken_by from latent.retrain_requests where requested_by = $1", [RetrainRequests.scheduledRequester(tick.date)])
        XCTAssertEqual(claim.rowCount, 1)
        XCTAssertEqual(claim[0, 0].map { $0.hasSuffix(":\(instances[winner].process.processIdentifier)") }, true, "the winner claimed the tick")

        for instance in instances { instance.kill(SIGTERM) }
        for instance in instances { XCTAssertEqual(instance.waitForExit(timeout: 30), 0, instance.log) }
    }

    /// One instance's training figures from its `/metrics`.
    private struct Outcome: CustomStringConvertible {
        var ran: Double
        var skipped: Double
        var failedPublishes: Double
        var lockBusy: Double

        init(metrics text: String) throws {
            ran = try XCTUnwrap(ServeProcess.metric(text, "latent_training_cycles_total", labels: [#"trigger="schedule""#]))
            skipped = try XCTUnwrap(ServeProcess.metric(text, "latent_training_cycles_skipped_total"))
            failedPublishes = ServeProcess.metric(text, "latent_publish_runs_total", labels: [#"status="failed""#]) ?? 0
            lockBusy = try XCTUnwrap(ServeProcess.metric(text, "latent_training_lock_busy"))
        }

        var description: String { "ran \(ran), skipped \(skipped), failed \(failedPublishes), lock busy \(lockBusy)" }
    }

    /// The first whole UTC minute at least `seconds` from now, as a daily cron expression (the
    /// next matching time after it is a day away, so the test sees exactly one tick).
    private static func tick(atLeast seconds: TimeInterval) -> (date: Date, cron: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let earliest = Date(timeIntervalSinceNow: seconds)
        let minute = calendar.dateInterval(of: .minute, for: earliest)?.end ?? earliest
        let parts = calendar.dateComponents([.hour, .minute], from: minute)
        return (minute, "\(parts.minute ?? 0) \(parts.hour ?? 0) * * *")
    }

    /// How many partitions of the ratings topic the newest assignment in a log holds (the
    /// consumer's own line lists them, e.g. `partitions=movies[0],ratings[0],ratings[1]`).
    private static func ratingsPartitions(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("[Kafka] partitions assigned") }) else { return nil }
        return line.components(separatedBy: "ratings[").count - 1
    }
}
