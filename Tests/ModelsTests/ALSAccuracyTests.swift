import Foundation
import XCTest
import Models

/// Package root, from this file's location (Tests/ModelsTests/...).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func loadML100K() throws -> Dataset {
    let folder = packageRoot.appendingPathComponent(".cache/ml-100k")
    let ratings = folder.appendingPathComponent("ml-100k.inter").path
    let movies = folder.appendingPathComponent("ml-100k.item").path
    guard FileManager.default.fileExists(atPath: ratings), FileManager.default.fileExists(atPath: movies) else {
        throw XCTSkipFailure("ML-100K is missing at \(folder.path): run ops/fetch-ml100k first")
    }
    return try MovieLens.loadDataset(ratings: ratings, movies: movies)
}

func loadMLLatestSmall() throws -> Dataset {
    let folder = packageRoot.appendingPathComponent("data/ml-latest-small")
    return try MovieLens.loadDataset(
        ratings: folder.appendingPathComponent("ratings.csv").path, movies: folder.appendingPathComponent("movies.csv").path)
}

/// An error that makes the test fail (not skip) with a message saying what to do.
struct XCTSkipFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Trains on `train` (indices of `dataset`) and returns the model.
func fitALS(_ dataset: Dataset, train: RatingTriples, _ configuration: AlternatingLeastSquares.Configuration) throws -> FactorModel {
    try AlternatingLeastSquares(configuration: configuration).fit(
        ratings: train, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
}

/// NDCG@n over users with held-out ratings >= 4 (binary relevance), recommending among
/// movies the user did not rate in training.
func ndcg(at n: Int, model: FactorModel, train: RatingTriples, test: RatingTriples, scores: (Int) -> [Float]) -> Double {
    let users = model.users.count, movies = model.movies.count
    var rated = [[Int32]](repeating: [], count: users)
    for i in 0..<train.count { rated[Int(train.users[i])].append(train.movies[i]) }
    var relevant = [Set<Int32>](repeating: [], count: users)
    for i in 0..<test.count where test.ratings[i] >= 4 { relevant[Int(test.users[i])].insert(test.movies[i]) }
    var total = 0.0, counted = 0
    for u in 0..<users where !relevant[u].isEmpty {
        var s = scores(u)
        for m in rated[u] { s[Int(m)] = -.infinity }
        let top = (0..<movies).sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }.prefix(n)
        var dcg = 0.0
        for (rank, m) in top.enumerated() where relevant[u].contains(Int32(m)) { dcg += 1 / log2(Double(rank + 2)) }
        var ideal = 0.0
        for rank in 0..<min(n, relevant[u].count) { ideal += 1 / log2(Double(rank + 2)) }
        total += dcg / ideal
        counted += 1
    }
    return total / Double(max(counted, 1))
}

/// NDCG@n where each user's candidates are their own held-out movies (Surprise's
/// precision@k protocol): relevant = held-out rating >= 4, ranked by `score(u, m)`.
func heldOutNDCG(at n: Int, test: RatingTriples, userCount: Int, score: (Int, Int) -> Float) -> Double {
    var items = [[(movie: Int, rating: Float)]](repeating: [], count: userCount)
    for i in 0..<test.count { items[Int(test.users[i])].append((Int(test.movies[i]), test.ratings[i])) }
    var total = 0.0, counted = 0
    for u in 0..<userCount {
        let list = items[u]
        let relevantCount = list.filter { $0.rating >= 4 }.count
        guard relevantCount > 0 else { continue }
        let ranked = list.map { (s: score(u, $0.movie), m: $0.movie, r: $0.rating) }
            .sorted { $0.s != $1.s ? $0.s > $1.s : $0.m < $1.m }.prefix(n)
        var dcg = 0.0
        for (rank, e) in ranked.enumerated() where e.r >= 4 { dcg += 1 / log2(Double(rank + 2)) }
        var ideal = 0.0
        for rank in 0..<min(n, relevantCount) { ideal += 1 / log2(Double(rank + 2)) }
        total += dcg / ideal
        counted += 1
    }
    return total / Double(max(counted, 1))
}

func alsNDCG(_ model: FactorModel, _ split: RatingSplit) -> Double {
    var scratch = [Float](repeating: 0, count: model.movies.count)
    return ndcg(at: 10, model: model, train: split.train, test: split.test) { u in
        let k = model.k
        for m in 0..<model.movies.count {
            var s = model.movieBias[m]
            for d in 0..<k { s += model.userFactors[u * k + d] * model.movieFactors[m * k + d] }
            scratch[m] = s
        }
        return scratch
    }
}

final class ALSAccuracyTests: XCTestCase {
    /// ML-100K, 5-fold cross-validation, default configuration: mean RMSE <= 0.905.
    func testML100KFiveFoldRMSE() throws {
        let dataset = try loadML100K()
        let folds = try Splits.kFold(dataset.ratings, folds: 5, seed: 2024)
        var errors: [Double] = []
        for split in folds {
            let model = try fitALS(dataset, train: split.train, .init())
            errors.append(rmse(model, split.test))
        }
        let mean = errors.reduce(0, +) / Double(errors.count)
        print("ALS ML-100K 5-fold RMSE: \(errors.map { String(format: "%.4f", $0) }) mean \(String(format: "%.4f", mean))")
        XCTAssertLessThanOrEqual(mean, 0.905)
    }

    /// ML-latest-small, random 90/10, default configuration: RMSE <= 0.845, and NDCG@10
    /// above the popularity baseline on the same split (ranking held-out movies).
    func testMLLatestSmallHoldoutRMSEAndRanking() throws {
        let dataset = try loadMLLatestSmall()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 2024)
        let model = try fitALS(dataset, train: split.train, .init())
        let error = rmse(model, split.test)
        print("ALS ML-latest-small 90/10 RMSE: \(String(format: "%.4f", error))")
        XCTAssertLessThanOrEqual(error, 0.845)

        // Top-10 over all movies the user did not rate (Evaluation.ranking): ALS must beat
        // recommending the most-rated movies. The default missing-data term is what makes it.
        let ranking = try Evaluation.ranking(of: model, train: split.train, test: split.test, k: 10)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: split.train, test: split.test, k: 10)
        var popularity = [Float](repeating: 0, count: dataset.movies.count)
        for m in split.train.movies { popularity[Int(m)] += 1 }
        let alsHeldOut = heldOutNDCG(at: 10, test: split.test, userCount: model.users.count) { u, m in model.predict(user: u, movie: m) }
        let popularHeldOut = heldOutNDCG(at: 10, test: split.test, userCount: model.users.count) { _, m in popularity[m] }
        print("ALS \(ranking)\npopularity \(popular)\nNDCG@10 ranking each user's held-out movies: ALS \(String(format: "%.4f", alsHeldOut)) popularity \(String(format: "%.4f", popularHeldOut))")
        XCTAssertGreaterThan(ranking.ndcg, popular.ndcg)
        XCTAssertGreaterThan(alsHeldOut, popularHeldOut)
    }
}
