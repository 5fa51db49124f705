import Foundation
import Models
@testable import Pipeline
import Postgres
import XCTest

/// The live path against a published run: a user's new ratings change their list at once.
final class LiveRefreshTests: XCTestCase {
    private func publishedDatabase(_ model: ModelConfiguration) throws -> PostgresConnection {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.serveModel = model.kind.rawValue
        _ = try Publisher(connection: connection).publish(model, settings: settings)
        return connection
    }

    private func list(_ connection: PostgresConnection, user: Int64) throws -> [Int64] {
        let rows = try connection.query("select movie_id from latent.recommendations where user_id = $1::bigint order by rank", [String(user)])
        return (0..<rows.rowCount).compactMap { rows[$0, 0].flatMap { Int64($0) } }
    }

    func testANewRatingChangesTheUsersListAndANewUserGetsOne() throws {
        let connection = try publishedDatabase(PublishTests.als())
        let refresher = LiveRefresher(connection: connection, listLength: 20)
        let before = try list(connection, user: 3)
        XCTAssertEqual(before.count, 20)

        // User 3 rates the top of their list badly and loves movies like the bottom of it.
        let top = before[0]
        try connection.query("insert into latent.ratings values (3, $1::bigint, 0.5, now())", [String(top)])
        let report = try refresher.refresh(users: [3])
        XCTAssertEqual(report.users, 1)
        let after = try list(connection, user: 3)
        XCTAssertEqual(after.count, 20)
        XCTAssertFalse(after.contains(top), "a movie the user just rated leaves their list")
        XCTAssertNotEqual(after, before)

        XCTAssertEqual(try list(connection, user: 9001), [], "an unknown user has no list before rating")
        try connection.execute("insert into latent.ratings values (9001, 5, 5, now()), (9001, 8, 4.5, now())")
        try refresher.refresh(users: [9001])
        let fresh = try list(connection, user: 9001)
        XCTAssertEqual(fresh.count, 20)
        XCTAssertFalse(fresh.contains(5) || fresh.contains(8))
        let vector = try connection.execute("select array_length(vector, 1) from latent.user_embeddings where user_id = 9001")
        XCTAssertEqual(vector[0, 0], "8", "the new user's folded-in vector is published")
        XCTAssertEqual(try connection.execute("select count(distinct run_id) from latent.recommendations")[0, 0], "1")
    }

    func testARetractionLiftsTheExclusionAndExcludedMoviesStayOut() throws {
        let connection = try publishedDatabase(.popularity)
        let refresher = LiveRefresher(connection: connection, listLength: 20)
        let mostPopular = try XCTUnwrap(try connection.execute("""
            select movie_id from latent.ratings group by movie_id order by count(*) desc, movie_id limit 1
            """)[0, 0].flatMap { Int64($0) })
        try connection.execute("insert into latent.excluded_movies values (\(mostPopular == 2 ? 3 : 2), 'withdrawn')")
        try connection.query(
            "insert into latent.ratings values (777, $1::bigint, 4, now())", [String(mostPopular)])
        try refresher.refresh(users: [777])
        XCTAssertFalse(try list(connection, user: 777).contains(mostPopular), "a rated movie is excluded")

        try connection.query("delete from latent.ratings where user_id = 777 and movie_id = $1::bigint", [String(mostPopular)])
        try refresher.refresh(users: [777])
        let relisted = try list(connection, user: 777)
        XCTAssertEqual(relisted.first, mostPopular, "after the retraction the most popular movie is listed again, first")
        XCTAssertFalse(relisted.contains(mostPopular == 2 ? 3 : 2), "excluded movies stay out of live lists")
    }

    func testANeuralRunEmbedsANewUserThroughItsEncoder() throws {
        var configuration = NeuralEmbedder.Configuration()
        configuration.dimension = 16
        configuration.epochs = 20
        configuration.threads = 2
        let connection = try publishedDatabase(.neural(configuration))
        XCTAssertEqual(try connection.execute("select count(*) from latent.model_files")[0, 0], "1", "the run keeps its encoder")
        let refresher = LiveRefresher(connection: connection, listLength: 20)
        try connection.execute("insert into latent.ratings values (9002, 3, 5, now()), (9002, 6, 4.5, now()), (9002, 9, 5, now())")
        try refresher.refresh(users: [9002])
        let fresh = try list(connection, user: 9002)
        XCTAssertEqual(fresh.count, 20)
        XCTAssertTrue(Set(fresh).isDisjoint(with: [3, 6, 9]))

        // The published vector is the encoder's embedding of the liked movies.
        let run = try XCTUnwrap(try connection.execute("select run_id from latent.current_runs where model = 'neural'")[0, 0].flatMap { Int64($0) })
        let model = try FactorModel.published(runID: run, from: connection)
        let encoder = try XCTUnwrap(model.encoder)
        let expected = encoder.embed(movies: [3, 6, 9].compactMap { model.movies[$0] })
        let stored = try connection.execute("select vector::text from latent.user_embeddings where user_id = 9002")[0, 0] ?? ""
        let vector = stored.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) }
        XCTAssertEqual(vector.count, expected.count)
        for (a, b) in zip(vector, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testNothingServesYetIsANoOp() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let report = try LiveRefresher(connection: connection).refresh(users: [1, 2])
        XCTAssertNil(report.runID)
        XCTAssertEqual(report.rows, 0)
    }
}
