import Foundation
import Logging
import Models
@testable import Pipeline
import Postgres
import XCTest

final class TrainingCycleTests: XCTestCase {
    /// Every model of a cycle trains on one snapshot: a rating that arrives while the first
    /// model trains is in no run of that cycle (their validation metrics, which pick the
    /// serving model, compare like with like), and the next cycle reads it.
    func testEveryModelOfACycleTrainsOnTheSameSnapshot() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        let writer = try connection.sibling()
        let before = try connection.execute("select count(*) from latent.ratings")[0, 0]
        var inserted = false
        let cycle = TrainingCycle(models: [.popularity, PublishTests.als()], settings: PublishTests.settings())
        let results = cycle.run(on: connection, logger: Logger(label: "test")) {
            // Once the first run has started, its snapshot is loaded: insert then.
            guard !inserted else { return false }
            do {
                guard try writer.execute("select count(*) from latent.model_runs")[0, 0] != "0" else { return false }
                try writer.execute("insert into latent.ratings (user_id, movie_id, rating, rated_at) values (9100, 1, 4, now())")
                inserted = true
            } catch {
                XCTFail("insert: \(error)")
            }
            return false
        }
        XCTAssertTrue(inserted)
        XCTAssertEqual(results.count, 2)
        let counts = try connection.execute("select model, ratings_count from latent.model_runs order by run_id")
        XCTAssertEqual(counts.rowCount, 2)
        XCTAssertEqual(counts[0, 1], before, "popularity")
        XCTAssertEqual(counts[1, 1], before, "als trained on the cycle's snapshot, without the rating that came later")
        _ = TrainingCycle(models: [.popularity], settings: PublishTests.settings()).run(on: connection, logger: Logger(label: "test"))
        let next = try connection.execute("select ratings_count - \(before ?? "0") from latent.model_runs order by run_id desc limit 1")
        XCTAssertEqual(next[0, 0], "1", "the next cycle reads a fresh snapshot")
    }
}
