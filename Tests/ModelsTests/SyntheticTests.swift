import Foundation
import XCTest
import Models

final class SyntheticTests: XCTestCase {
    private func temporaryFolder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("latent-synth-\(UUID().uuidString)").path
    }

    func testWritesMovieLensCSVThatReadsBack() throws {
        let config = configured(Synthetic.Configuration()) { ($0.ratings, $0.users, $0.movies, $0.seed) = (50_000, 800, 2_000, 3) }
        let folder = temporaryFolder()
        let files = try Synthetic.write(config, to: folder)
        let data = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        XCTAssertEqual(data.ratings.count, 50_000)
        XCTAssertEqual(data.users.count, 800)
        XCTAssertEqual(data.movies.count, 2_000)
        XCTAssertTrue(data.ratings.ratings.allSatisfy { $0 >= 0.5 && $0 <= 5 && ($0 * 2).rounded() == $0 * 2 })
        XCTAssertTrue((0..<data.movies.count).allSatisfy { !data.genres.genres(ofMovie: $0).isEmpty })
        XCTAssertTrue(data.titles.contains { $0.contains(", The") })  // quoted titles survive
        // Each user's movies are distinct.
        var pairs = Set<Int64>()
        for i in 0..<data.ratings.count {
            XCTAssertTrue(pairs.insert(Int64(data.ratings.users[i]) << 32 | Int64(data.ratings.movies[i])).inserted)
        }
        // Power-law activity: the busiest user rates far more than the median user.
        var perUser = [Int](repeating: 0, count: data.users.count)
        for u in data.ratings.users { perUser[Int(u)] += 1 }
        perUser.sort()
        XCTAssertGreaterThan(perUser.last ?? 0, 8 * perUser[perUser.count / 2])
    }

    func testSameSeedSameBytes() throws {
        let config = configured(Synthetic.Configuration()) { ($0.ratings, $0.users, $0.movies, $0.seed) = (20_000, 300, 200, 9) }
        let a = try Synthetic.write(config, to: temporaryFolder())
        let b = try Synthetic.write(config, to: temporaryFolder())
        XCTAssertEqual(FileManager.default.contents(atPath: a.ratings), FileManager.default.contents(atPath: b.ratings))
        XCTAssertEqual(FileManager.default.contents(atPath: a.movies), FileManager.default.contents(atPath: b.movies))
    }

    func testPlantedStructureIsLearnable() throws {
        let files = try Synthetic.write(configured(.init()) { ($0.ratings, $0.users, $0.movies, $0.seed) = (100_000, 1_000, 800, 4) }, to: temporaryFolder())
        let data = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 1)
        let baseline = try BiasBaseline().fit(ratings: split.train, users: data.users, movies: data.movies)
        let mf = try MatrixFactorizationSGD(configuration: .init(k: 16)).fit(ratings: split.train, users: data.users, movies: data.movies)
        let b = Evaluation.errors(of: baseline, on: split.test, train: split.train).rmse
        let m = Evaluation.errors(of: mf, on: split.test, train: split.train).rmse
        XCTAssertLessThan(m, b - 0.02, "MF \(m) should beat the baseline \(b) on planted low-rank data")
    }

    func testRejectsImpossibleSizes() {
        XCTAssertThrowsError(try Synthetic.write(configured(.init()) { ($0.ratings, $0.users, $0.movies) = (1_000, 2, 10) }, to: temporaryFolder()))
        XCTAssertThrowsError(try Synthetic.write(configured(.init()) { $0.ratings = 0 }, to: temporaryFolder()))
    }
}
