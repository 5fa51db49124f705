import Foundation
import XCTest
import Models

final class RatingMLPTests: XCTestCase {
    /// A tiny case: 3 users, 4 movies, 7 ratings.
    private let users: [Int32] = [0, 0, 1, 1, 2, 2, 2]
    private let movies: [Int32] = [0, 1, 1, 3, 0, 2, 3]
    private let ratings: [Float] = [4, 2.5, 3, 5, 1.5, 3.5, 4]

    /// Largest violation of the finite-difference check over every parameter (embeddings,
    /// weights, biases) and the largest analytic embedding gradient (so the check is not vacuous).
    private func gradientCheck(corruption: Float = 1) -> (violation: Float, largestEmbedding: Float) {
        let network = RatingNetwork(
            userCount: 3, movieCount: 4, dimension: 3, hidden: [6, 5, 4], batchCapacity: ratings.count,
            ratingScale: 0.5...5, initialScale: 0.8, mean: 3.2, seed: 9)
        let result = finiteDifferenceCheck(network.tensors, step: 1e-3, corruption: corruption) {
            network.lossAndGradients(users: users, movies: movies, ratings: ratings)
        }
        return (result.violation, max(result.largest[0], result.largest[1]))
    }

    /// The hand-written backward pass of the whole network, embeddings included, against
    /// central finite differences of the loss.
    func testBackwardPassMatchesFiniteDifferences() {
        let real = gradientCheck()
        XCTAssertLessThanOrEqual(real.violation, 0, "analytic and numeric gradients disagree")
        XCTAssertGreaterThan(real.largestEmbedding, 0.01, "embedding gradients too small for the check to mean anything")
        let wrong = gradientCheck(corruption: 1.1)
        XCTAssertGreaterThan(wrong.violation, 0, "a 10% error went unnoticed")
    }

    private func smallConfiguration(seed: UInt64 = 3) -> RatingMLP.Configuration {
        var c = RatingMLP.Configuration()
        c.dimension = 8
        c.hidden = [16, 8, 4]
        c.batchSize = 32
        c.epochs = 8
        c.seed = seed
        c.threads = 2
        return c
    }

    private func fit(_ configuration: RatingMLP.Configuration, _ dataset: Dataset) throws -> FactorModel {
        try RatingMLP(configuration: configuration).fit(
            ratings: dataset.ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
    }

    func testSameSeedGivesTheSameModelAndAnotherSeedDoesNot() throws {
        let problem = LowRankProblem(users: 60, movies: 40, rank: 3, density: 0.3, seed: 11)
        let first = try fit(smallConfiguration(), problem.dataset)
        let second = try fit(smallConfiguration(), problem.dataset)
        XCTAssertEqual(first.userFactors, second.userFactors)
        XCTAssertEqual(first.movieFactors, second.movieFactors)
        XCTAssertEqual(first.ratingHead, second.ratingHead)
        let other = try fit(smallConfiguration(seed: 4), problem.dataset)
        XCTAssertNotEqual(first.movieFactors, other.movieFactors)
    }

    /// Every scoring path goes through the head: the block scorer of top-N (first layer
    /// decomposed) and recommend agree with the per-pair prediction; a save/load round trip
    /// keeps the head and predicts the same.
    func testScoringPathsAgreeAndSaveLoadPredictsTheSame() throws {
        let problem = LowRankProblem(users: 40, movies: 30, rank: 3, density: 0.4, seed: 12, genres: true)
        let model = try fit(smallConfiguration(), problem.dataset)
        XCTAssertEqual(model.kind, .mlp)
        XCTAssertEqual(model.k, 8)
        let head = try XCTUnwrap(model.ratingHead)
        XCTAssertEqual(head.layers.map(\.outputs), [16, 8, 4, 1])
        XCTAssertEqual(model.genreFactors.count, problem.dataset.genres.genreCount * 8)

        let table = try model.topNForAllUsers(count: 30, threads: 2, blockSize: 7)
        for u in 0..<40 {
            let list = table.recommendations(forUser: u)
            XCTAssertEqual(list.count, 30)
            for (movieID, score) in list {
                let m = try model.movieIndex(of: movieID)
                XCTAssertEqual(score, model.headScore(head, user: u, movie: m), accuracy: 1e-4, "user \(u) movie \(movieID)")
            }
            XCTAssertEqual(zip(list, list.dropFirst()).allSatisfy { $0.score >= $1.score }, true)
        }
        let direct = try model.recommend(userID: model.users.ids[5], count: 5)
        XCTAssertEqual(direct.map(\.movieID), Array(table.recommendations(forUser: 5).prefix(5).map(\.movieID)))
        // Predictions are clipped; the scores of lists are not.
        for u in 0..<40 {
            for m in 0..<30 { XCTAssertTrue(model.ratingScale.contains(model.predict(user: u, movie: m))) }
        }

        let bytes = model.serialized()
        XCTAssertEqual(bytes[8], 3, "a model with a rating head is written as version 3")
        let loaded = try FactorModel.deserialize(bytes: bytes)
        XCTAssertEqual(loaded.kind, .mlp)
        XCTAssertEqual(loaded.ratingHead, model.ratingHead)
        for u in 0..<40 {
            for m in 0..<30 { XCTAssertEqual(loaded.predict(user: u, movie: m), model.predict(user: u, movie: m)) }
        }
        XCTAssertThrowsError(try FactorModel.deserialize(bytes: Array(bytes.prefix(bytes.count - 9)) + bytes.suffix(8)))
        let similar = try loaded.similar(movieID: loaded.movies.ids[0], count: 3)
        XCTAssertEqual(similar.count, 3)
    }

    func testFoldInAndOversizedScoringAreRefusedClearly() throws {
        let problem = LowRankProblem(users: 20, movies: 15, rank: 2, density: 0.5, seed: 14)
        let model = try fit(smallConfiguration(), problem.dataset)
        XCTAssertThrowsError(try model.foldIn(movieIndices: [0, 1], ratings: [4, 3])) { error in
            XCTAssertTrue("\(error)".contains("mlp"), "\(error)")
        }
        XCTAssertThrowsError(try RatingHead.checkScoringSize(users: 200_000, movies: 87_000)) { error in
            XCTAssertTrue("\(error)".contains("\(RatingHead.maxScoredPairs)"), "\(error)")
        }
        XCTAssertNoThrow(try RatingHead.checkScoringSize(users: 6_040, movies: 3_706))
        var bad = smallConfiguration()
        bad.hidden = [8, 4]
        XCTAssertThrowsError(try fit(bad, problem.dataset))
        XCTAssertFalse(ModelKind.nightlyDefaults.contains(.mlp))
        XCTAssertEqual(ModelKind.nightlyDefaults.count, ModelKind.allCases.count - 1)
    }

    /// ML-100K, seeded random 90/10 split, the default configuration: test RMSE below a bound
    /// measured with margin, and below the biases-only baseline's (which a network that learned
    /// nothing about users and movies cannot beat). The study reports the network slightly
    /// worse than MF; Rendle et al. 2020 ("Neural collaborative filtering vs. matrix
    /// factorization revisited") explain why an MLP struggles to learn a dot product.
    func testML100KRMSEBeatsTheBaseline() throws {
        let dataset = try loadML100K()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 2024)
        let started = Date()
        let model = try RatingMLP().fit(
            ratings: split.train, users: dataset.users, movies: dataset.movies)
        let seconds = Date().timeIntervalSince(started)
        let mlp = Evaluation.errors(of: model, on: split.test, train: split.train).rmse
        let baseline = try BiasBaseline().fit(ratings: split.train, users: dataset.users, movies: dataset.movies)
        let baselineRMSE = Evaluation.errors(of: baseline, on: split.test, train: split.train).rmse
        print("mlp ML-100K 90/10: rmse \(String(format: "%.4f", mlp)) baseline \(String(format: "%.4f", baselineRMSE)) "
            + "fit_seconds \(String(format: "%.1f", seconds)) epochs \(model.parameters["epochsTrained"] ?? "?")")
        XCTAssertLessThan(mlp, baselineRMSE)
        // Measured 0.9369 (baseline 0.9446): the bound leaves 0.005 for platform differences.
        XCTAssertLessThan(mlp, 0.942)
    }
}

/// Compares the analytic gradient that `loss` leaves in `tensors` (scaled by `corruption`; 1
/// is the real check) with central finite differences of `loss`, for every parameter. Returns
/// the largest violation of `|numeric - analytic| <= 1e-3 + 2e-2 |analytic|` (positive: the
/// check fails) and the largest analytic gradient of each tensor.
func finiteDifferenceCheck(
    _ tensors: [TrainableTensor], step: Float, corruption: Float, loss: () -> Double
) -> (violation: Float, largest: [Float]) {
    _ = loss()
    let analytic = tensors.map { t in (0..<t.count).map { t.gradient[$0] * corruption } }
    var violation: Float = 0
    var largest = [Float](repeating: 0, count: tensors.count)
    for (t, tensor) in tensors.enumerated() {
        for i in 0..<tensor.count {
            let saved = tensor.value[i]
            tensor.value[i] = saved + step
            let up = loss()
            tensor.value[i] = saved - step
            let down = loss()
            tensor.value[i] = saved
            let numeric = Float((up - down) / Double(2 * step))
            let expected = analytic[t][i]
            violation = max(violation, abs(numeric - expected) - (1e-3 + 2e-2 * abs(expected)))
            largest[t] = max(largest[t], abs(expected))
        }
    }
    return (violation, largest)
}
