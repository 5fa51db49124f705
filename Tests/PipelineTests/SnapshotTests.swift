import Foundation
import Models
import Pipeline
import Postgres
import XCTest

final class SnapshotTests: XCTestCase {
    func testSnapshotOfImportedDataMatchesTheFiles() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let importer = Importer(connection: connection)
        _ = try importer.importRatings(from: BundledData.ratings)
        _ = try importer.importMovies(from: BundledData.movies)

        let fromDatabase = try loadDataset(from: connection)
        let fromFiles = try MovieLens.loadDataset(ratings: BundledData.ratings, movies: BundledData.movies)
        XCTAssertEqual(fromDatabase.ratings.count, BundledData.ratingCount)
        XCTAssertEqual(fromDatabase.movies.count, BundledData.movieCount)
        XCTAssertEqual(fromDatabase.users.count, fromFiles.users.count)
        XCTAssertEqual(fromDatabase.movies.count, fromFiles.movies.count)
        XCTAssertEqual(fromDatabase.genres.movieCount, BundledData.movieCount)
        XCTAssertEqual(fromDatabase.titles.count, BundledData.movieCount)
        XCTAssertEqual(Set(fromDatabase.genres.names), Set(fromFiles.genres.names))

        // Same (user, movie) -> (rating, timestamp) content.
        func content(_ d: Dataset) -> [String: String] {
            var map: [String: String] = [:]
            for i in 0..<d.ratings.count {
                let user = d.users.ids[Int(d.ratings.users[i])]
                let movie = d.movies.ids[Int(d.ratings.movies[i])]
                map["\(user):\(movie)"] = "\(d.ratings.ratings[i])@\(d.ratings.timestamps[i])"
            }
            return map
        }
        XCTAssertEqual(content(fromDatabase), content(fromFiles))

        // Catalogue-only movies are present with their title and genres.
        let rated = Set(fromDatabase.ratings.movies)
        let unrated = (0..<fromDatabase.movies.count).filter { !rated.contains(Int32($0)) }
        XCTAssertEqual(unrated.count, BundledData.movieCount - Set(fromFiles.ratings.movies.map { fromFiles.movies.ids[Int($0)] }).count)
        XCTAssertFalse(unrated.isEmpty)
        for m in unrated { XCTAssertFalse(fromDatabase.titles[m].isEmpty) }
        let toyStory = try XCTUnwrap(fromDatabase.movies[1])
        XCTAssertEqual(fromDatabase.titles[Int(toyStory)], "Toy Story (1995)")
        XCTAssertEqual(
            fromDatabase.genres.genres(ofMovie: Int(toyStory)).map { fromDatabase.genres.names[Int($0)] },
            ["Adventure", "Animation", "Children", "Comedy", "Fantasy"])

        // Deterministic: the same content gives the same indices.
        let again = try loadDataset(from: connection)
        XCTAssertEqual(again.users, fromDatabase.users)
        XCTAssertEqual(again.movies, fromDatabase.movies)
        XCTAssertEqual(again.ratings, fromDatabase.ratings)
    }

    func testSnapshotOfEmptyDatabaseAndRatedMoviesMissingFromCatalogue() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let empty = try loadDataset(from: connection)
        XCTAssertEqual(empty.ratings.count, 0)
        XCTAssertEqual(empty.movies.count, 0)
        try connection.execute("""
            insert into latent.movies (movie_id, title, genres) values (5, 'Catalogue only', '{Drama}');
            insert into latent.ratings values (1, 7, 4.5, to_timestamp(1700000000.75));
            """)
        let dataset = try loadDataset(from: connection, deterministicOrder: false)
        XCTAssertEqual(dataset.movies.ids, [5, 7])
        XCTAssertEqual(dataset.titles, ["Catalogue only", ""])
        XCTAssertEqual(dataset.genres.movieCount, 2)
        XCTAssertEqual(dataset.ratings.timestamps, [1_700_000_000])
        XCTAssertEqual(dataset.ratings.ratings, [4.5])
    }

    func testModelRunsAreRecorded() throws {
        struct Parameters: Encodable { var k = 64; var lambda: Float = 0.05; var genres = true }
        let connection = try LatentScratchDatabase(self).migrated()
        let store = ModelRunStore(connection: connection)
        let run = try store.start(model: "als", parameters: Parameters())
        XCTAssertEqual(try connection.query("select status, parameters->>'k' from latent.model_runs where run_id = $1::bigint", [String(run)])[0, 0], "running")
        try store.finish(
            run, status: .succeeded, metrics: ["rmse": 0.84, "ndcg_at_10": 0.3], durations: ["load": 1.5, "fit": 12.25],
            snapshot: SnapshotSize(ratings: 100, users: 10, movies: 20))
        let row = try connection.query("""
            select status, parameters->>'k', parameters->>'genres', metrics->>'rmse', durations->>'fit',
                   ratings_count, users_count, movies_count, finished_at >= started_at
            from latent.model_runs where run_id = $1::bigint
            """, [String(run)])
        XCTAssertEqual(row[0, 0], "succeeded")
        XCTAssertEqual(row[0, 1], "64")
        XCTAssertEqual(row[0, 2], "true")
        XCTAssertEqual(row[0, 3], "0.84")
        XCTAssertEqual(row[0, 4], "12.25")
        XCTAssertEqual(row[0, 5], "100")
        XCTAssertEqual(row[0, 6], "10")
        XCTAssertEqual(row[0, 7], "20")
        XCTAssertEqual(row[0, 8], "t")

        struct Boom: Error, CustomStringConvertible { var description: String { "out of memory" } }
        let failed = try store.start(model: "mf", parameters: ["k": 10], snapshot: SnapshotSize(ratings: 1, users: 1, movies: 1))
        try store.fail(failed, error: Boom())
        let failure = try connection.query("select status, metrics->>'error', ratings_count from latent.model_runs where run_id = $1::bigint", [String(failed)])
        XCTAssertEqual(failure[0, 0], "failed")
        XCTAssertEqual(failure[0, 1], "out of memory")
        XCTAssertEqual(failure[0, 2], "1")
        XCTAssertThrowsError(try store.fail(999_999, error: Boom()))
    }
}
