import Foundation
import XCTest
import Models

final class EASETests: XCTestCase {
    /// 7 users x 6 movies; movie 1005 is in the catalogue only. Ratings 1-5, so the liked
    /// threshold (3.5 by default) drops some inputs.
    private func tinyDataset() -> (ratings: RatingTriples, users: IDIndex, movies: IDIndex) {
        let rows: [[(Int32, Float)]] = [
            [(0, 5), (1, 4), (2, 2)], [(0, 4), (2, 5)], [(1, 3), (3, 4), (4, 1)], [(0, 2), (3, 5), (4, 4)],
            [(2, 4), (4, 5)], [(0, 5), (1, 5), (3, 3), (4, 2)], [(1, 4)],
        ]
        var ratings = RatingTriples()
        for (u, row) in rows.enumerated() {
            for (m, r) in row { ratings.append(user: Int32(u), movie: m, rating: r, timestamp: 0) }
        }
        return (ratings, IDIndex(ids: (0..<7).map { Int64(10 + $0) }), IDIndex(ids: (0..<6).map { Int64(1000 + $0) }))
    }

    /// The closed form computed independently in Double: G = X^T X + lambda I inverted by
    /// Gauss-Jordan elimination, B = -P / diag(P) by column, diag(B) = 0.
    private func bruteForceWeights(rows x: [[Double]], lambda: Double) -> [[Double]] {
        let n = x[0].count
        var a = (0..<n).map { i in (0..<n).map { j in x.reduce(0) { $0 + $1[i] * $1[j] } + (i == j ? lambda : 0) } }
        var inverse = (0..<n).map { i in (0..<n).map { j in i == j ? 1.0 : 0 } }
        for c in 0..<n {
            let pivot = a[c][c]
            for j in 0..<n { a[c][j] /= pivot; inverse[c][j] /= pivot }
            for r in 0..<n where r != c {
                let f = a[r][c]
                for j in 0..<n { a[r][j] -= f * a[c][j]; inverse[r][j] -= f * inverse[c][j] }
            }
        }
        return (0..<n).map { i in (0..<n).map { j in i == j ? 0 : -inverse[i][j] / inverse[j][j] } }
    }

    func testWeightsEqualTheClosedFormAndScoresAreXTimesB() throws {
        let (ratings, users, movies) = tinyDataset()
        let model = try EASE(configuration: configured(.init()) { ($0.lambda, $0.likedThreshold, $0.threads) = (2.1, 0, 2) })
            .fit(ratings: ratings, users: users, movies: movies)
        let n = movies.count
        XCTAssertEqual(model.kind, .ease)
        XCTAssertEqual(model.k, n)
        var x = [[Double]](repeating: [Double](repeating: 0, count: n), count: users.count)
        for i in 0..<ratings.count { x[Int(ratings.users[i])][Int(ratings.movies[i])] = 1 }
        // The penalty is absolute: added to the diagonal as it is.
        XCTAssertEqual(model.parameters["lambda"], "2.1")
        let b = bruteForceWeights(rows: x, lambda: 2.1)
        var largest = 0.0
        for i in 0..<n {
            for j in 0..<n {
                // movieFactors is B^T: movie j's row holds column j of B.
                XCTAssertEqual(Double(model.movieFactors[j * n + i]), b[i][j], accuracy: 1e-4, "B[\(i)][\(j)]")
                largest = max(largest, abs(b[i][j]))
            }
            XCTAssertEqual(model.movieFactors[i * n + i], 0, "diagonal of B")
        }
        XCTAssertGreaterThan(largest, 0.05, "weights too small for the comparison to mean anything")
        // Every user's scores, as the top-N computes them, are x B.
        let table = try model.topNForAllUsers(count: n, threads: 2)
        for u in 0..<users.count {
            for (movieID, score) in table.recommendations(forUser: u) {
                let m = try model.movieIndex(of: movieID)
                let expected = (0..<n).reduce(0.0) { $0 + x[u][$1] * b[$1][m] }
                XCTAssertEqual(Double(score), expected, accuracy: 1e-4, "user \(u) movie \(movieID)")
            }
        }
    }

    func testLikedThresholdDropsLowRatingsFromTheInput() throws {
        let (ratings, users, movies) = tinyDataset()
        let model = try EASE(configuration: configured(.init()) { ($0.likedThreshold, $0.threads) = (4, 2) }).fit(ratings: ratings, users: users, movies: movies)
        // User 10 rated movies 1000 (5), 1001 (4) and 1002 (2): only the first two are inputs.
        XCTAssertEqual(Array(model.userFactors[0..<6]), [1, 1, 0, 0, 0, 0])
    }

    func testCatalogueAboveTheLimitFailsBeforeFitting() throws {
        let (ratings, users, movies) = tinyDataset()
        XCTAssertThrowsError(try EASE(configuration: configured(.init()) { $0.maxMovies = 5 }).fit(ratings: ratings, users: users, movies: movies)) { error in
            XCTAssertEqual(error as? ModelError, .catalogueTooLarge(model: "ease", movies: 6, limit: 5))
            let text = "\(error)"
            XCTAssertTrue(text.contains("6 movies") && text.contains("limit of 5"), text)
        }
        XCTAssertThrowsError(try ModelConfiguration.ease(configured(.init()) { $0.maxMovies = 5 }).checkCatalogue(movies: 6))
        XCTAssertNoThrow(try ModelConfiguration.ease(configured(.init()) { $0.maxMovies = 6 }).checkCatalogue(movies: 6))
        XCTAssertNoThrow(try ModelConfiguration.als(.init()).checkCatalogue(movies: 1_000_000))
    }

    /// A new user's fold-in is their indicator row of liked movies (the default threshold drops
    /// the 2), and their list is the top of x B.
    func testFoldInIsTheIndicatorRowAndListsFollowXB() throws {
        let (ratings, users, movies) = tinyDataset()
        let model = try EASE(configuration: configured(.init()) { $0.threads = 2 }).fit(ratings: ratings, users: users, movies: movies)
        let n = movies.count
        let (bias, vector) = try model.foldIn(ratings: [(1001, 2), (1003, 5)])
        XCTAssertEqual(bias, 0)
        XCTAssertEqual(vector, [0, 0, 0, 1, 0, 0])
        let list = try model.recommend(bias: bias, vector: vector, count: 3, excluding: [1001, 1003])
        let scores = (0..<n).map { m in model.movieFactors[m * n + 3] }
        let expected = [0, 2, 4, 5].sorted { scores[$0] > scores[$1] }.prefix(3).map { Int64(1000 + $0) }
        XCTAssertEqual(list.map(\.movieID), Array(expected))
        XCTAssertEqual(list[0].score, scores[Int(expected[0] - 1000)], accuracy: 1e-6)
    }

    func testSaveAndLoadKeepTheModel() throws {
        let (ratings, users, movies) = tinyDataset()
        let model = try EASE(configuration: configured(.init()) { $0.threads = 2 }).fit(ratings: ratings, users: users, movies: movies)
        let loaded = try FactorModel.deserialize(bytes: model.serialized())
        XCTAssertEqual(loaded.kind, .ease)
        XCTAssertEqual(loaded.movieFactors, model.movieFactors)
        XCTAssertEqual(loaded.userFactors, model.userFactors)
        XCTAssertEqual(loaded.parameters, model.parameters)
    }

    /// ML-100K, random 90/10 split: NDCG@10 at least twice the popularity baseline's.
    func testML100KRankingAtLeastTwicePopularity() throws {
        let dataset = try loadML100K()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 2024)
        let model = try EASE().fit(ratings: split.train, users: dataset.users, movies: dataset.movies)
        let ease = try Evaluation.ranking(of: model, train: split.train, test: split.test, k: 10)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: split.train, test: split.test, k: 10)
        print("ease ML-100K 90/10: ndcg@10 \(String(format: "%.4f", ease.ndcg)) popularity \(String(format: "%.4f", popular.ndcg))")
        XCTAssertGreaterThanOrEqual(ease.ndcg, 2 * popular.ndcg)
    }
}
