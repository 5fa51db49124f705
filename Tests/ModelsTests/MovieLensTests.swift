import Records
import Foundation
import XCTest
import Models

/// Paths of the data sets the model tests read (relative to the package root).
enum MovieLensTestFiles {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var latestSmallRatings: String { packageRoot + "/data/ml-latest-small/ratings.csv" }
    static var latestSmallMovies: String { packageRoot + "/data/ml-latest-small/movies.csv" }

    /// ML-100K from RecBole's wheel; fails the calling test with instructions when absent.
    static func ml100k(file: StaticString = #filePath, line: UInt = #line) throws -> (ratings: String, movies: String) {
        let folder = packageRoot + "/.cache/ml-100k"
        let ratings = folder + "/ml-100k.inter", movies = folder + "/ml-100k.item"
        guard FileManager.default.fileExists(atPath: ratings), FileManager.default.fileExists(atPath: movies) else {
            let message = "ML-100K not found in \(folder): run ops/fetch-ml100k first"
            XCTFail(message, file: file, line: line)
            throw MissingTestData(message: message)
        }
        return (ratings, movies)
    }

    /// Writes `text` to a fresh temporary folder under `name` and returns its path.
    static func write(_ text: String, named name: String, encoding: String.Encoding = .utf8) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latent-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        guard let data = text.data(using: encoding) else { throw CocoaError(.fileWriteInapplicableStringEncoding) }
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Thrown (after recording a failure) when a data set the test needs is absent.
struct MissingTestData: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

final class MovieLensTests: XCTestCase {
    private func ratings(_ path: String) throws -> [RatingRecord] {
        var out: [RatingRecord] = []
        try MovieLens.forEachRating(in: path) { out.append($0) }
        return out
    }

    func testFormatDetection() throws {
        XCTAssertEqual(try MovieLensFormat.detect(path: "/a/ratings.csv"), .csv)
        XCTAssertEqual(try MovieLensFormat.detect(path: "ratings.dat"), .dat)
        XCTAssertEqual(try MovieLensFormat.detect(path: "ml-100k/u.data"), .ml100k)
        XCTAssertEqual(try MovieLensFormat.detect(path: "u.item"), .ml100k)
        XCTAssertEqual(try MovieLensFormat.detect(path: "x/ml-100k.inter"), .recBole)
        XCTAssertEqual(try MovieLensFormat.detect(path: "x/ml-100k.item"), .recBole)
        XCTAssertThrowsError(try MovieLensFormat.detect(path: "ratings.parquet")) { error in
            XCTAssertEqual(error as? MovieLensError, .unknownFormat(file: "ratings.parquet"))
        }
    }

    func testCSVWithCRLFAndQuotedTitles() throws {
        let r = try MovieLensTestFiles.write("userId,movieId,rating,timestamp\r\n1,10,4.0,100\r\n1,20,3.5,101\r\n2,10,5,102", named: "ratings.csv")
        XCTAssertEqual(try ratings(r), [
            RatingRecord(userID: 1, movieID: 10, rating: 4, timestamp: 100),
            RatingRecord(userID: 1, movieID: 20, rating: 3.5, timestamp: 101),
            RatingRecord(userID: 2, movieID: 10, rating: 5, timestamp: 102),
        ])
        let m = try MovieLensTestFiles.write(
            "movieId,title,genres\r\n10,\"American President, The (1995)\",Comedy|Drama|Romance\r\n"
                + "20,\"Film \"\"Quoted\"\" (2000)\",(no genres listed)\r\n",
            named: "movies.csv")
        XCTAssertEqual(try MovieLens.readMovies(in: m), [
            MovieRecord(movieID: 10, title: "American President, The (1995)", genres: ["Comedy", "Drama", "Romance"]),
            MovieRecord(movieID: 20, title: "Film \"Quoted\" (2000)", genres: ["(no genres listed)"]),
        ])
    }

    func testDatFormat() throws {
        let r = try MovieLensTestFiles.write("1::1193::5::978300760\n1::661::3::978302109\n", named: "ratings.dat")
        XCTAssertEqual(try ratings(r).map(\.movieID), [1193, 661])
        let m = try MovieLensTestFiles.write("1::Toy Story (1995)::Animation|Children's|Comedy\n", named: "movies.dat")
        XCTAssertEqual(try MovieLens.readMovies(in: m).first?.genres, ["Animation", "Children's", "Comedy"])
    }

    func testML100KFilesWithLatin1() throws {
        let r = try MovieLensTestFiles.write("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", named: "u.data")
        XCTAssertEqual(try ratings(r).first, RatingRecord(userID: 196, movieID: 242, rating: 3, timestamp: 881250949))
        let flags = ["0", "0", "0", "1", "1", "1"] + Array(repeating: "0", count: 13)
        let m = try MovieLensTestFiles.write(
            "1|Café (1995)|01-Jan-1995||http://x|" + flags.joined(separator: "|") + "\n", named: "u.item", encoding: .isoLatin1)
        XCTAssertEqual(try MovieLens.readMovies(in: m), [
            MovieRecord(movieID: 1, title: "Café (1995)", genres: ["Animation", "Children's", "Comedy"])
        ])
    }

    func testRecBoleFiles() throws {
        let r = try MovieLensTestFiles.write(
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n", named: "x.inter")
        XCTAssertEqual(try ratings(r), [RatingRecord(userID: 196, movieID: 242, rating: 3, timestamp: 881250949)])
        let m = try MovieLensTestFiles.write(
            "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n1\tToy Story\t1995\tAnimation Children's Comedy\n",
            named: "x.item")
        XCTAssertEqual(try MovieLens.readMovies(in: m), [
            MovieRecord(movieID: 1, title: "Toy Story (1995)", genres: ["Animation", "Children's", "Comedy"])
        ])
    }

    func testErrorsNameFileLineAndProblem() throws {
        let nan = try MovieLensTestFiles.write("userId,movieId,rating,timestamp\n1,2,3,4\n1,3,NaN,5\n", named: "ratings.csv")
        XCTAssertThrowsError(try ratings(nan)) { error in
            guard case .malformed(let file, let line, let reason)? = error as? MovieLensError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(file, nan)
            XCTAssertEqual(line, 3)
            XCTAssertTrue(reason.contains("finite"), reason)
        }
        let missing = try MovieLensTestFiles.write("1\t2\n", named: "u.data")
        XCTAssertThrowsError(try ratings(missing)) { error in
            XCTAssertTrue("\(error)".contains(":1: missing field rating"), "\(error)")
        }
        let badNumber = try MovieLensTestFiles.write("1::x2::3::4\n", named: "ratings.dat")
        XCTAssertThrowsError(try ratings(badNumber)) { error in
            XCTAssertTrue("\(error)".contains("movie id is not a number: 'x2'"), "\(error)")
        }
        XCTAssertThrowsError(try ratings("/nonexistent/ratings.csv")) { error in
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testLatestSmallDataset() throws {
        let d = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: MovieLensTestFiles.latestSmallMovies)
        XCTAssertEqual(d.ratings.count, 100_836)
        XCTAssertEqual(d.users.count, 610)
        XCTAssertEqual(d.movies.count, 9_742)  // every catalogue movie, rated or not
        XCTAssertEqual(d.genres.movieCount, d.movies.count)
        XCTAssertEqual(d.titles.count, d.movies.count)
        guard let toyStory = d.movies[1] else { return XCTFail("movie 1 missing") }
        XCTAssertEqual(d.titles[Int(toyStory)], "Toy Story (1995)")
        XCTAssertEqual(d.genres.genres(ofMovie: Int(toyStory)).count, 5)
    }

    func testML100KDataset() throws {
        let files = try MovieLensTestFiles.ml100k()
        let d = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        XCTAssertEqual(d.ratings.count, 100_000)
        XCTAssertEqual(d.users.count, 943)
        XCTAssertEqual(d.movies.count, 1_682)
        XCTAssertEqual(d.genres.genreCount, 19)
    }
}
