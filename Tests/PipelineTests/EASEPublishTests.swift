import Foundation
import Logging
import Models
@testable import Pipeline
import Postgres
import XCTest

/// EASE through the nightly path: lists and no vectors, the live path's fold-in, and the
/// cycle's skip above the catalogue limit.
final class EASEPublishTests: XCTestCase {
    private static func ease(maxMovies: Int = 20_000) -> ModelConfiguration {
        .ease({
            var c = EASE.Configuration()
            (c.maxMovies, c.threads) = (maxMovies, 2)
            return c
        }())
    }

    private func run(_ connection: PostgresConnection, model: String) throws -> Int64 {
        try XCTUnwrap(try connection.execute("select run_id from latent.current_runs where model = '\(model)'")[0, 0].flatMap { Int64($0) })
    }

    /// Asserts that `list` is a top `count` of `x B` for the row `x` of the `rated` movies
    /// liked at the model's threshold, rated and excluded movies left out: best first, nothing
    /// listed below the brute-force boundary. Scores are compared, not ids: the seeded ratings
    /// tie many movies to within rounding.
    private func assertTopOfXB(
        _ list: [Int64], _ model: FactorModel, rated: [Int64: Float], excluded: Set<Int64> = [], count: Int, _ what: String
    ) throws {
        let n = model.k
        let threshold = try XCTUnwrap(model.parameters["likedThreshold"].flatMap(Float.init))
        let liked = rated.filter { $0.value >= threshold }.keys
        XCTAssertFalse(liked.isEmpty, "\(what) likes nothing: the row x would be empty")
        var scores = [Float](repeating: 0, count: n)
        for id in liked {
            let j = try model.movieIndex(of: id)
            for m in 0..<n { scores[m] += model.movieFactors[m * n + j] }
        }
        let candidates = (0..<n).filter { rated[model.movies.ids[$0]] == nil && !excluded.contains(model.movies.ids[$0]) }
        let boundary = candidates.map { scores[$0] }.sorted(by: >)[count - 1]
        XCTAssertEqual(list.count, count, what)
        var previous = Float.infinity
        for id in list {
            XCTAssertFalse(rated[id] != nil || excluded.contains(id), "\(what) lists rated or excluded movie \(id)")
            let score = scores[try model.movieIndex(of: id)]
            XCTAssertGreaterThanOrEqual(score, boundary - 1e-5, "\(what) lists movie \(id) below the top \(count) of x B")
            XCTAssertLessThanOrEqual(score, previous + 1e-5, "\(what): movie \(id) is out of order")
            previous = score
        }
        XCTAssertGreaterThan(scores.max() ?? 0, 0.01, "\(what): scores too small for the comparison to mean anything")
    }

    func testPublishingEaseWritesListsOfXBAndNoVectors() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        let outcome = try Publisher(connection: connection).publish(Self.ease(), settings: PublishTests.settings())
        XCTAssertEqual(outcome.status, .current)
        let runID = try run(connection, model: "ease")
        let counts = try connection.execute("""
            select (select count(*) from latent.user_recommendations where run_id = \(runID)),
                   (select count(*) from latent.similar_movies where run_id = \(runID)),
                   (select count(*) from latent.genre_vectors where run_id = \(runID)),
                   (select count(*) from latent.movie_vectors where run_id = \(runID) and cardinality(vector) > 0),
                   (select count(*) from latent.user_vectors where run_id = \(runID) and cardinality(vector) > 0),
                   (select dimensions from latent.model_runs where run_id = \(runID)),
                   (select count(*) from latent.model_files where run_id = \(runID))
            """)
        XCTAssertEqual(counts[0, 0], "2400", "120 users x 20 movies")
        XCTAssertEqual(counts[0, 1], "0", "no similar movies")
        XCTAssertEqual(counts[0, 2], "0", "no genre vectors")
        XCTAssertEqual(counts[0, 3], "0", "no movie vectors")
        XCTAssertEqual(counts[0, 4], "0", "no user vectors")
        XCTAssertEqual(counts[0, 5], "0", "no published dimensions")
        XCTAssertEqual(counts[0, 6], "1", "the weights are kept for the live path")

        // The model file holds the weights without the users; a user's list is the top of x B.
        let model = try FactorModel.published(runID: runID, from: connection)
        XCTAssertEqual(model.kind, .ease)
        XCTAssertEqual(model.users.count, 0)
        XCTAssertEqual(model.k, 150)
        XCTAssertEqual(model.movieFactors.count, 150 * 150)
        for user in [1, 42, 120] as [Int64] {
            let rows = try connection.query("select movie_id, rating from latent.ratings where user_id = $1::bigint", [String(user)])
            var rated: [Int64: Float] = [:]
            for r in 0..<rows.rowCount { rated[try XCTUnwrap(rows[r, 0].flatMap { Int64($0) })] = try XCTUnwrap(rows[r, 1].flatMap { Float($0) }) }
            let published = try connection.query(
                "select movie_id from latent.recommendations where user_id = $1::bigint order by rank", [String(user)])
            let list = (0..<published.rowCount).compactMap { published[$0, 0].flatMap { Int64($0) } }
            try assertTopOfXB(list, model, rated: rated, count: 20, "user \(user)")
        }
    }

    func testANewUsersLiveListIsTheTopOfTheirRowTimesB() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.serveModel = "ease"
        _ = try Publisher(connection: connection).publish(Self.ease(), settings: settings)
        try connection.execute("insert into latent.excluded_movies (movie_id, reason) values (12, 'withdrawn')")
        try connection.execute("insert into latent.ratings values (9003, 3, 5, now()), (9003, 6, 1.5, now()), (9003, 9, 4, now())")
        let report = try LiveRefresher(connection: connection, listLength: 20).refresh(users: [9003])
        XCTAssertEqual(report.runID, try run(connection, model: "ease"), "ease serves the lists")
        let model = try FactorModel.published(runID: try run(connection, model: "ease"), from: connection)
        let published = try connection.query("select movie_id from latent.recommendations where user_id = 9003 order by rank")
        let list = (0..<published.rowCount).compactMap { published[$0, 0].flatMap { Int64($0) } }
        try assertTopOfXB(list, model, rated: [3: 5, 6: 1.5, 9: 4], excluded: [12], count: 20, "new user 9003")
        let vector = try connection.execute("select cardinality(vector) from latent.user_vectors where user_id = 9003")
        XCTAssertEqual(vector[0, 0], "0", "no user vector is published for ease")
    }

    func testTheCycleSkipsEaseAboveItsCatalogueLimitAndPublishesTheOthers() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        let cycle = TrainingCycle(models: [Self.ease(maxMovies: 100), .popularity], settings: PublishTests.settings())
        let results = cycle.run(on: connection, logger: Logger(label: "test"))
        XCTAssertEqual(results.count, 2)
        guard case let .skipped(model, reason) = results[0] else { return XCTFail("ease was not skipped: \(results[0])") }
        XCTAssertEqual(model, "ease")
        XCTAssertTrue(reason.contains("150 movies") && reason.contains("limit of 100"), reason)
        guard case .published(let outcome) = results[1] else { return XCTFail("popularity was not published: \(results[1])") }
        XCTAssertEqual(outcome.status, .current)
        XCTAssertEqual(try connection.execute("select count(*) from latent.model_runs where model = 'ease'")[0, 0], "0", "a skip starts no run")
    }
}
