import Foundation
import XCTest
import Models

final class FactorModelTests: XCTestCase {
    private func trainedModel() throws -> (FactorModel, LowRankProblem) {
        let problem = LowRankProblem(users: 40, movies: 30, rank: 2, density: 0.4, seed: 31, genres: true)
        let model = try AlternatingLeastSquares(configuration: .init(k: 4, iterations: 5, threads: 2)).fit(problem.dataset)
        return (model, problem)
    }

    private func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("latent-\(UUID().uuidString).latent").path
    }

    func testSaveLoadRoundTripGivesIdenticalPredictions() throws {
        let (model, _) = try trainedModel()
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let loaded = try FactorModel.load(from: path)
        XCTAssertEqual(loaded.kind, model.kind)
        XCTAssertEqual(loaded.k, model.k)
        XCTAssertEqual(loaded.users, model.users)
        XCTAssertEqual(loaded.movies, model.movies)
        XCTAssertEqual(loaded.genreNames, model.genreNames)
        XCTAssertEqual(loaded.genreFactors, model.genreFactors)
        XCTAssertEqual(loaded.parameters, model.parameters)
        XCTAssertEqual(loaded.ratingScale, model.ratingScale)
        for u in 0..<model.users.count {
            for m in 0..<model.movies.count {
                XCTAssertEqual(loaded.predict(user: u, movie: m).bitPattern, model.predict(user: u, movie: m).bitPattern)
            }
        }
    }

    func testCorruptOrTruncatedFilesAreErrors() throws {
        let (model, _) = try trainedModel()
        let bytes = model.serialized()
        func expectCorrupt(_ data: [UInt8], _ label: String) {
            XCTAssertThrowsError(try FactorModel.deserialize(bytes: data), label) { error in
                guard case ModelError.corruptFile(_, let reason) = error else { return XCTFail("\(label): \(error)") }
                XCTAssertFalse(reason.isEmpty)
            }
        }
        expectCorrupt(Array(bytes.prefix(bytes.count - 1)), "truncated by one byte")
        expectCorrupt(Array(bytes.prefix(30)), "truncated header")
        expectCorrupt([], "empty")
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x40
        expectCorrupt(flipped, "flipped byte")
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        expectCorrupt(magic, "bad magic")
        expectCorrupt(bytes + [0], "trailing byte")
        XCTAssertNoThrow(try FactorModel.deserialize(bytes: bytes))

        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try FactorModel.load(from: path)) { error in
            guard case ModelError.corruptFile(let p, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
        }
        XCTAssertThrowsError(try FactorModel.load(from: path + ".missing")) { error in
            guard case ModelError.io = error else { return XCTFail("\(error)") }
        }
    }

    func testRecommendMatchesBruteForceAndExcludes() throws {
        let (model, _) = try trainedModel()
        let userID = model.users.ids[5]
        let excluded: Set<Int64> = [model.movies.ids[0], model.movies.ids[3]]
        let top = try model.recommend(userID: userID, count: 7, excluding: excluded)
        XCTAssertEqual(top.count, 7)
        var expected: [(Int64, Float)] = []
        for m in 0..<model.movies.count where !excluded.contains(model.movies.ids[m]) {
            var s = model.globalMean + model.userBias[5] + model.movieBias[m]
            for d in 0..<model.k { s += model.userFactors[5 * model.k + d] * model.movieFactors[m * model.k + d] }
            expected.append((model.movies.ids[m], s))
        }
        expected.sort { $0.1 > $1.1 }
        XCTAssertEqual(top.map(\.movieID), expected.prefix(7).map(\.0))
        for (a, b) in zip(top, expected) { XCTAssertEqual(a.score, b.1, accuracy: 1e-4) }
        XCTAssertThrowsError(try model.recommend(userID: -5, count: 3)) { error in
            XCTAssertEqual(error as? ModelError, .unknownUser(-5))
            XCTAssertTrue("\(error)".contains("-5"))
        }
        XCTAssertEqual(try model.recommend(userID: userID, count: 1000).count, model.movies.count)
    }

    func testBatchTopNMatchesSingleUserRecommendations() throws {
        let (model, problem) = try trainedModel()
        let rated = SparseRatings(problem.observed, userCount: model.users.count, movieCount: model.movies.count)
        let table = try model.topNForAllUsers(count: 5, excluding: rated, threads: 2, blockSize: 7)
        XCTAssertEqual(table.userCount, model.users.count)
        for u in 0..<model.users.count {
            let excluded = Set(rated.userRange(u).map { model.movies.ids[Int(rated.userMovies[$0])] })
            let single = try model.recommend(userID: model.users.ids[u], count: 5, excluding: excluded)
            let batch = table.recommendations(forUser: u)
            XCTAssertEqual(batch.map(\.movieID), single.map(\.movieID), "user \(u)")
            for (a, b) in zip(batch, single) { XCTAssertEqual(a.score, b.score, accuracy: 1e-4) }
        }
    }

    func testBatchTopNLeavesOutExcludedMovies() throws {
        let (model, problem) = try trainedModel()
        let rated = SparseRatings(problem.observed, userCount: model.users.count, movieCount: model.movies.count)
        let banned: Set<Int64> = [model.movies.ids[0], model.movies.ids[3]]
        let table = try model.topNForAllUsers(count: model.movies.count, excluding: rated, excludedMovies: banned, threads: 2, blockSize: 5)
        for u in 0..<model.users.count {
            let listed = table.recommendations(forUser: u).map(\.movieID)
            XCTAssertTrue(banned.isDisjoint(with: listed), "user \(u)")
            let unrated = model.movies.count - rated.userRange(u).count
            let bannedUnrated = banned.filter { id in !rated.userRange(u).contains { model.movies.ids[Int(rated.userMovies[$0])] == id } }
            XCTAssertEqual(listed.count, unrated - bannedUnrated.count, "every other unrated movie is listed for user \(u)")
        }
    }

    func testSimilarForAllMoviesMatchesSingleMovieSimilar() throws {
        let (model, _) = try trainedModel()
        for measure in SimilarityMeasure.allCases {
            let table = try model.similarForAllMovies(count: 6, measure: measure, threads: 2, blockSize: 4)
            XCTAssertEqual(table.userCount, model.movies.count)
            for m in 0..<model.movies.count {
                let single = try model.similar(movieID: model.movies.ids[m], count: 6, measure: measure)
                let batch = table.recommendations(forUser: m)
                XCTAssertFalse(batch.contains { $0.movieID == model.movies.ids[m] }, "a movie is not similar to itself")
                XCTAssertEqual(batch.count, single.count)
                for (a, b) in zip(batch, single) { XCTAssertEqual(a.score, b.score, accuracy: 1e-4, "movie \(m) \(measure)") }
            }
        }
    }

    func testSimilarForSeveralMeasuresInOnePassEqualsOnePassEach() throws {
        let (model, _) = try trainedModel()
        let both = try model.similarForAllMovies(count: 5, measures: [.dot, .cosine], threads: 2, blockSize: 3)
        for (measure, table) in zip([SimilarityMeasure.dot, .cosine], both) {
            let alone = try model.similarForAllMovies(count: 5, measure: measure, threads: 1, blockSize: 7)
            XCTAssertEqual(table.movieIDs, alone.movieIDs, "\(measure)")
            XCTAssertEqual(table.filled, alone.filled, "\(measure)")
        }
        XCTAssertNotEqual(both[0].movieIDs, both[1].movieIDs, "dot and cosine rank differently on trained vectors")
    }

    func testSimilarByCosineAndDot() throws {
        let (model, _) = try trainedModel()
        let id = model.movies.ids[2]
        let k = model.k
        func vector(_ m: Int) -> [Float] { Array(model.movieFactors[(m * k)..<((m + 1) * k)]) }
        func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map(*).reduce(0, +) }
        let target = vector(2)
        for measure in SimilarityMeasure.allCases {
            let result = try model.similar(movieID: id, count: 4, measure: measure)
            XCTAssertEqual(result.count, 4)
            XCTAssertFalse(result.contains { $0.movieID == id })
            var expected: [(Int64, Float)] = []
            for m in 0..<model.movies.count where m != 2 {
                let v = vector(m)
                let s = measure == .dot ? dot(v, target) : dot(v, target) / (dot(v, v).squareRoot() * dot(target, target).squareRoot())
                expected.append((model.movies.ids[m], s))
            }
            expected.sort { $0.1 > $1.1 }
            XCTAssertEqual(result.map(\.movieID), expected.prefix(4).map(\.0), "\(measure)")
            if measure == .cosine { XCTAssertLessThanOrEqual(result[0].score, 1.0001) }
        }
        XCTAssertThrowsError(try model.similar(movieID: 5, count: 3)) { error in
            XCTAssertEqual(error as? ModelError, .unknownMovie(5))
        }
    }
}
