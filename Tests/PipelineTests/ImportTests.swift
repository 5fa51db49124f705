import Foundation
import Models
import Pipeline
import Postgres
import XCTest

/// The bundled ML-latest-small files.
enum BundledData {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data/ml-latest-small")
    static var ratings: String { folder.appendingPathComponent("ratings.csv").path }
    static var movies: String { folder.appendingPathComponent("movies.csv").path }
    static let ratingCount = 100_836
    static let movieCount = 9_742
}

final class ImportTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("latent-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let folder = self.folder!
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func count(_ table: String, _ connection: PostgresConnection) throws -> Int {
        Int(try connection.execute("select count(*) from latent.\(table)")[0, 0] ?? "") ?? -1
    }

    func testImportOfBundledDataIsCompleteAndRepeatable() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let importer = Importer(connection: connection)
        let ratings = try importer.importRatings(from: BundledData.ratings)
        XCTAssertEqual(ratings.rowsRead, BundledData.ratingCount)
        XCTAssertEqual(ratings.rowsWritten, BundledData.ratingCount)
        let movies = try importer.importMovies(from: BundledData.movies)
        XCTAssertEqual(movies.rowsRead, BundledData.movieCount)
        XCTAssertEqual(movies.rowsWritten, BundledData.movieCount)
        XCTAssertEqual(try count("ratings", connection), BundledData.ratingCount)
        XCTAssertEqual(try count("movies", connection), BundledData.movieCount)

        // The first line of ratings.csv: 1,1,4.0,964982703. And a quoted title with genres.
        let first = try connection.execute(
            "select rating, extract(epoch from rated_at)::bigint from latent.ratings where user_id = 1 and movie_id = 1")
        XCTAssertEqual(first[0, 0], "4")
        XCTAssertEqual(first[0, 1], "964982703")
        let toyStory = try connection.execute("select title, array_to_string(genres, '|') from latent.movies where movie_id = 1")
        XCTAssertEqual(toyStory[0, 0], "Toy Story (1995)")
        XCTAssertEqual(toyStory[0, 1], "Adventure|Animation|Children|Comedy|Fantasy")
        XCTAssertEqual(
            try connection.execute("select title from latent.movies where movie_id = 11")[0, 0],
            "American President, The (1995)")

        // Importing again changes nothing.
        XCTAssertEqual(try importer.importRatings(from: BundledData.ratings).rowsWritten, 0)
        XCTAssertEqual(try importer.importMovies(from: BundledData.movies).rowsWritten, 0)
        XCTAssertEqual(try count("ratings", connection), BundledData.ratingCount)
    }

    func testMergeFollowsTheIngestRules() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try connection.execute("""
            insert into latent.ratings values (1, 10, 2.0, to_timestamp(2000)), (1, 11, 2.0, to_timestamp(2000));
            insert into latent.rating_tombstones values (1, 12, to_timestamp(2000)), (1, 13, to_timestamp(2000));
            """)
        let path = try write("ratings.csv", """
            userId,movieId,rating,timestamp\r
            1,10,4.0,1000\r
            1,11,4.5,3000\r
            1,12,5.0,1999\r
            1,13,3.0,2000\r
            2,20,1.0,100\r
            2,20,3.5,300\r
            2,20,2.0,200\r

            """)
        let summary = try Importer(connection: connection).importRatings(from: path)
        XCTAssertEqual(summary.rowsRead, 7)
        let rows = try connection.execute("""
            select user_id || ':' || movie_id || '=' || rating || '@' || extract(epoch from rated_at)::bigint
            from latent.ratings order by user_id, movie_id
            """)
        XCTAssertEqual((0..<rows.rowCount).compactMap { rows[$0, 0] }, [
            "1:10=2@2000",  // older import does not overwrite a newer rating
            "1:11=4.5@3000",  // newer import wins
            "1:13=3@2000",  // as new as its tombstone: the later arrival wins, live again
            "2:20=3.5@300",  // duplicates within the file: the newest wins
        ])  // 1:12 is older than its tombstone: stays retracted
        let tombstones = try connection.execute("select string_agg(movie_id::text, ',') from latent.rating_tombstones")
        XCTAssertEqual(tombstones[0, 0], "12", "a superseded tombstone is removed")
    }

    func testMoviesAreUpdatedAndDuplicatesKeepTheLastEntry() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let importer = Importer(connection: connection)
        _ = try importer.importMovies(from: try write("movies.csv", """
            movieId,title,genres
            1,Old Title (1995),Comedy
            2,"Comma, The (2000)",(no genres listed)
            1,Toy Story (1995),Adventure|Animation

            """))
        let rows = try connection.execute("select movie_id, title, array_to_string(genres, '|') from latent.movies order by movie_id")
        XCTAssertEqual(rows.rowCount, 2)
        XCTAssertEqual(rows[0, 1], "Toy Story (1995)")
        XCTAssertEqual(rows[0, 2], "Adventure|Animation")
        XCTAssertEqual(rows[1, 1], "Comma, The (2000)")
        let updated = try importer.importMovies(from: try write("movies2.csv", "movieId,title,genres\n2,\"Comma, The (2000)\",Drama\n"))
        XCTAssertEqual(updated.rowsWritten, 1)
        XCTAssertEqual(try connection.execute("select genres[1] from latent.movies where movie_id = 2")[0, 0], "Drama")
    }

    func testOtherMovieLensFormats() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let importer = Importer(connection: connection)
        XCTAssertEqual(try importer.importRatings(from: try write("ratings.dat", "1::10::5::978300760\n2::10::3::978300761\n")).rowsRead, 2)
        XCTAssertEqual(try importer.importRatings(from: try write("u.data", "3\t10\t4\t881250949\n")).rowsRead, 1)
        XCTAssertEqual(try importer.importMovies(from: try write("movies.dat", "10::GoldenEye (1995)::Action|Adventure|Thriller\n")).rowsRead, 1)
        XCTAssertEqual(try count("ratings", connection), 3)
        XCTAssertEqual(try connection.execute("select cardinality(genres) from latent.movies where movie_id = 10")[0, 0], "3")
    }

    func testBadLineNamesFileAndLineAndWritesNothing() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let path = try write("ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1000\n1,11,abc,1000\n")
        XCTAssertThrowsError(try Importer(connection: connection).importRatings(from: path)) { error in
            XCTAssertTrue("\(error)".contains("\(path):3"), "\(error)")
            XCTAssertTrue("\(error)".contains("rating"), "\(error)")
        }
        XCTAssertEqual(try count("ratings", connection), 0)
        XCTAssertTrue(connection.isConnected)
    }

    func testOutOfRangeRatingIsRejected() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        let path = try write("ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,1000\n1,11,4.25,1000\n")
        XCTAssertThrowsError(try Importer(connection: connection).importRatings(from: path)) { error in
            XCTAssertEqual(error as? ImportError, .invalidRecord(
                file: path, record: 2, reason: "user 1, movie 11: rating 4.25 is not a multiple of 0.5 in 0.5...5.0"))
        }
        let negative = try write("ratings2.csv", "userId,movieId,rating,timestamp\n-1,10,4.0,1000\n")
        XCTAssertThrowsError(try Importer(connection: connection).importRatings(from: negative)) { error in
            XCTAssertTrue("\(error)".contains("user id must be a positive integer"), "\(error)")
        }
        XCTAssertEqual(try count("ratings", connection), 0)
    }

    func testMissingSchemaAndUnknownFormatAreClear() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.connect()
        XCTAssertThrowsError(try Importer(connection: connection).importRatings(from: BundledData.ratings)) { error in
            XCTAssertEqual(error as? ImportError, .schemaMissing)
        }
        try MigrationRunner(connection: connection).migrate()
        let path = try write("ratings.json", "{}")
        XCTAssertThrowsError(try Importer(connection: connection).importRatings(from: path)) { error in
            XCTAssertTrue("\(error)".contains("unknown MovieLens format"), "\(error)")
        }
    }
}
