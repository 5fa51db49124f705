import Foundation
import Logging
import Models
@testable import Pipeline
import Postgres
import XCTest

/// The blend of EASE and ials through the nightly path: lists, no vectors, the live path's
/// fold-in from the model file, and the skip above EASE's catalogue limit.
final class BlendPublishTests: XCTestCase {
    private static func blend(maxMovies: Int = 20_000) -> ModelConfiguration {
        var c = EASEBlend.Configuration()
        (c.ease.maxMovies, c.ease.threads, c.ials.k, c.ials.iterations, c.ials.threads) = (maxMovies, 2, 8, 5, 2)
        return .blend(c)
    }

    func testANewUsersLiveListIsTheBlendsListForTheirRatings() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.serveModel = "blend"
        let outcome = try Publisher(connection: connection).publish(Self.blend(), settings: settings)
        XCTAssertEqual(outcome.status, .current)
        let runID = outcome.runID
        let vectors = try connection.execute("select count(*) from latent.movie_vectors where run_id = \(runID) and cardinality(vector) > 0")
        XCTAssertEqual(vectors[0, 0], "0", "a blend publishes no vectors")

        try connection.execute("insert into latent.ratings values (9004, 3, 5, now()), (9004, 6, 1.5, now()), (9004, 9, 4, now())")
        let report = try LiveRefresher(connection: connection, listLength: 20).refresh(users: [9004])
        XCTAssertEqual(report.runID, runID, "the blend serves the lists")
        let model = try FactorModel.published(runID: runID, from: connection)
        XCTAssertEqual(model.kind, .blend)
        XCTAssertEqual(model.k, model.movies.count + 8)
        let history: [(movieID: Int64, rating: Float)] = [(3, 5), (6, 1.5), (9, 4)]
        let folded = try model.foldIn(ratings: history)
        let expected = try model.recommend(bias: folded.bias, vector: folded.vector, count: 20, excluding: [3, 6, 9])
        let published = try connection.query("select movie_id from latent.recommendations where user_id = 9004 order by rank")
        let list = (0..<published.rowCount).compactMap { published[$0, 0].flatMap { Int64($0) } }
        XCTAssertEqual(list, expected.map(\.movieID))
        XCTAssertEqual(list.count, 20)
        XCTAssertNotEqual(Array(folded.vector[model.movies.count...]), [Float](repeating: 0, count: 8), "the ials part folded in")
    }

    func testTheCycleSkipsTheBlendAboveEASEsCatalogueLimit() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        let results = TrainingCycle(models: [Self.blend(maxMovies: 100)], settings: PublishTests.settings())
            .run(on: connection, logger: Logger(label: "test"))
        guard case let .skipped(model, reason) = results.first else { return XCTFail("the blend was not skipped: \(results)") }
        XCTAssertEqual(model, "blend")
        XCTAssertTrue(reason.contains("limit of 100"), reason)
    }
}
