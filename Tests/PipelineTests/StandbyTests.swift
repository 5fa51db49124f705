import Foundation
@testable import Pipeline
import Postgres
import XCTest

/// Readers on a streaming-replication hot standby (`ops/dev/postgres standby`) of the test server.
final class StandbyTests: XCTestCase {
    func testReadersOnAHotStandbySeeWholeRunsOnlyAndCatchUpWithTheNewest() throws {
        let standbyURL = try TestServers.url("LATENT_STANDBY_DATABASE_URL", startedBy: "ops/dev/postgres standby")
        let database = try LatentScratchDatabase(self)
        let primary = try database.migrated()
        let standby = try PostgresConnection(url: standbyURL)
        XCTAssertEqual(try standby.execute("select pg_is_in_recovery()")[0, 0], "t", "LATENT_STANDBY_DATABASE_URL is a standby")
        try PublishTests.seed(primary)
        var settings = PublishTests.settings()
        settings.force = true
        settings.serveModel = "popularity"  // the lists view follows the newest popularity run
        let publisher = Publisher(connection: primary)
        var runs = [try publisher.publish(.popularity, settings: settings).runID]

        // The scratch database and its first run reach the standby through replication.
        var lags = [try Self.waitForReplay(of: primary, on: standby)]
        let reader = ViewReader(connection: try PostgresConnection(url: standbyURL, database: database.name))
        let thread = Thread { reader.loop() }
        thread.start()

        for round in 0..<4 {
            runs.append(try publisher.publish(round % 2 == 0 ? .popularity : PublishTests.als(), settings: settings).runID)
            lags.append(try Self.waitForReplay(of: primary, on: standby))
            _ = try RunCatalog(connection: primary).promote(runs[runs.count - 2], preferredServing: "popularity")
        }
        let newest = try publisher.publish(.popularity, settings: settings).runID
        lags.append(try Self.waitForReplay(of: primary, on: standby))

        // Replay has passed the switch: the reader's next statements see the newest run.
        let caughtUp = reader.progress().reads
        let deadline = Date(timeIntervalSinceNow: 30)
        while reader.progress().reads < caughtUp + 2, Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        let last = reader.progress().lastRun
        reader.stop()
        XCTAssertTrue(reader.finished.wait(timeout: .now() + 30) == .success, "the reader stopped")
        XCTAssertEqual(try primary.execute("select distinct run_id from latent.recommendations")[0, 0], String(newest))
        XCTAssertEqual(last, String(newest), "after replay caught up the standby shows the newest run")
        XCTAssertEqual(reader.problems, [], "every read on the standby saw one whole run")
        XCTAssertGreaterThan(reader.reads, 10)
        XCTAssertGreaterThan(reader.runsSeen.count, 1, "the reader saw the switches replicate")
        print("standby replay lag after each publish (s): \(lags.map { String(format: "%.3f", $0) }.joined(separator: " "))")
    }

    /// Waits until the standby has replayed everything the primary has written so far
    /// (`pg_last_wal_replay_lsn() >= pg_current_wal_lsn()`); returns the seconds it took.
    static func waitForReplay(of primary: PostgresConnection, on standby: PostgresConnection, timeout: TimeInterval = 60) throws -> TimeInterval {
        let target = try XCTUnwrap(try primary.execute("select pg_current_wal_lsn()::text")[0, 0])
        let started = Date()
        while try standby.query("select pg_last_wal_replay_lsn() >= $1::pg_lsn", [target])[0, 0] != "t" {
            guard Date().timeIntervalSince(started) < timeout else {
                XCTFail("the standby did not replay up to \(target) within \(Int(timeout)) s")
                throw PostgresError(kind: .statementFailed, message: "standby replay timed out")
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return Date().timeIntervalSince(started)
    }
}
