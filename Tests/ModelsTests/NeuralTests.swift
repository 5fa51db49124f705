import Foundation
import XCTest
import Models

final class NeuralTests: XCTestCase {
    /// Bags of a tiny catalogue of 7 movies (repeats across users, one single-movie bag).
    static let tinyBags: [[Int32]] = [[0, 2, 5], [1, 3], [6, 4, 2, 0], [3]]

    /// Largest violation of the finite-difference check over every parameter (see
    /// ``finiteDifferenceCheck(_:step:corruption:loss:)``) and the largest analytic gradient.
    /// `draws` non-nil checks the sampled softmax (the same negatives on every evaluation).
    static func gradientCheck(widths: [Int], corruption: Float = 1, draws: Int? = nil) -> (violation: Float, largest: Float) {
        let network = NeuralNetwork(
            movieCount: 7, widths: widths, batchCapacity: tinyBags.count, threads: 2, seed: 5, sampledNegatives: draws,
            proposalBags: tinyBags)
        let result = finiteDifferenceCheck(network.tensors, step: 1e-2, corruption: corruption) { network.lossAndGradients(bags: tinyBags) }
        return (result.violation, result.largest.max() ?? 0)
    }

    /// The hand-written backward pass against central finite differences of the loss, for
    /// every weight and bias, with and without a hidden layer. Glorot weights on a 7-movie
    /// catalogue are large enough that tanh is far from linear, so its derivative is exercised.
    func testBackwardPassMatchesFiniteDifferences() {
        for widths in [[4], [5, 3]] {
            let real = Self.gradientCheck(widths: widths)
            XCTAssertLessThanOrEqual(real.violation, 0, "widths \(widths): analytic and numeric gradients disagree")
            XCTAssertGreaterThan(real.largest, 0.05, "widths \(widths): gradients too small for the check to mean anything")
            // The same comparison rejects a gradient that is off by 10%: the check has teeth.
            let wrong = Self.gradientCheck(widths: widths, corruption: 1.1)
            XCTAssertGreaterThan(wrong.violation, 0, "widths \(widths): a 10% error went unnoticed")
        }
    }

    private func smallConfiguration(seed: UInt64 = 3, hidden: Int = 0) -> NeuralEmbedder.Configuration {
        .init(dimension: 16, hidden: hidden, batchSize: 16, epochs: 10, validationFraction: 0.1, evaluationInterval: 2,
              seed: seed, threads: 2)
    }

    func testSameSeedGivesTheSameModelAndAnotherSeedDoesNot() throws {
        let problem = LowRankProblem(users: 60, movies: 40, rank: 3, density: 0.3, seed: 11)
        let first = try NeuralEmbedder(configuration: smallConfiguration(hidden: 8)).fit(problem.dataset)
        let second = try NeuralEmbedder(configuration: smallConfiguration(hidden: 8)).fit(problem.dataset)
        XCTAssertEqual(first.userFactors, second.userFactors)
        XCTAssertEqual(first.movieFactors, second.movieFactors)
        XCTAssertEqual(first.movieBias, second.movieBias)
        XCTAssertEqual(first.encoder, second.encoder)
        let other = try NeuralEmbedder(configuration: smallConfiguration(seed: 4, hidden: 8)).fit(problem.dataset)
        XCTAssertNotEqual(first.movieFactors, other.movieFactors)
    }

    /// The model is a FactorModel of kind "neural" whose user factors are what the encoder
    /// gives for each user's liked movies, so fold-in of a new user matches training users.
    func testModelShapeAndEncoderReproducesUserFactors() throws {
        let problem = LowRankProblem(users: 50, movies: 30, rank: 3, density: 0.4, seed: 12)
        let model = try NeuralEmbedder(configuration: smallConfiguration(hidden: 8)).fit(problem.dataset)
        XCTAssertEqual(model.kind, .neural)
        XCTAssertEqual(model.k, 16)
        XCTAssertEqual(model.globalMean, 0)
        XCTAssertEqual(model.userBias, [Float](repeating: 0, count: 50))
        XCTAssertEqual(model.movieFactors.count, 30 * 16)
        let encoder = try XCTUnwrap(model.encoder)
        XCTAssertEqual(encoder.layers.map(\.outputs), [8, 16])
        XCTAssertEqual(encoder.movieCount, 30)
        let ratings = problem.dataset.ratings
        for u in 0..<50 {
            let liked = (0..<ratings.count).filter { Int(ratings.users[$0]) == u && ratings.ratings[$0] >= encoder.likedThreshold }
            // Unknown movies and repeats are ignored.
            let embedded = encoder.embed(movies: liked.map { ratings.movies[$0] } + [999, -1] + liked.prefix(1).map { ratings.movies[$0] })
            let stored = Array(model.userFactors[(u * 16) ..< ((u + 1) * 16)])
            for (a, b) in zip(embedded, stored) { XCTAssertEqual(a, b, accuracy: 1e-5, "user \(u)") }
            // The generic fold-in path embeds through the encoder too.
            let all = (0..<ratings.count).filter { Int(ratings.users[$0]) == u }
            let folded = try model.foldIn(movieIndices: all.map { ratings.movies[$0] }, ratings: all.map { ratings.ratings[$0] })
            XCTAssertEqual(folded.bias, 0)
            for (a, b) in zip(folded.vector, stored) { XCTAssertEqual(a, b, accuracy: 1e-5, "fold-in of user \(u)") }
        }
    }

    /// Publishing's refit keeps the network trained on the validation split's training part
    /// and embeds every user again from all their ratings: exactly what the encoder gives for
    /// the full bag, and different from the validated model for users whose bag grew.
    func testRefitEmbedsEveryUserFromAllTheirRatingsWithTheSameNetwork() throws {
        let problem = LowRankProblem(users: 50, movies: 30, rank: 3, density: 0.4, seed: 12)
        let dataset = problem.dataset
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.2, seed: 7)
        let configuration = ModelConfiguration.neural(smallConfiguration())
        let validated = try configuration.fit(split.train, of: dataset)
        let refit = try configuration.refit(dataset.ratings, of: dataset, from: validated)
        XCTAssertEqual(refit.movieFactors, validated.movieFactors)
        XCTAssertEqual(refit.movieBias, validated.movieBias)
        let encoder = try XCTUnwrap(refit.encoder)
        XCTAssertEqual(encoder, validated.encoder)
        let ratings = dataset.ratings
        var grown = 0
        for u in 0..<50 {
            let liked = (0..<ratings.count).filter { Int(ratings.users[$0]) == u && ratings.ratings[$0] >= encoder.likedThreshold }
            let expected = encoder.embed(movies: liked.map { ratings.movies[$0] })
            let stored = Array(refit.userFactors[(u * 16) ..< ((u + 1) * 16)])
            for (a, b) in zip(expected, stored) { XCTAssertEqual(a, b, accuracy: 1e-5, "user \(u)") }
            if stored != Array(validated.userFactors[(u * 16) ..< ((u + 1) * 16)]) { grown += 1 }
        }
        XCTAssertGreaterThan(grown, 10, "the held-out ratings should change many users' embeddings")
    }

    /// Early stopping counts in optimiser steps as well as epochs: the small sets' settings
    /// stay as configured; an epoch of 400 steps is measured after every epoch and stops two
    /// measurements past its best.
    func testMeasurementIntervalAndPatienceFollowTheStepsPerEpoch() {
        let defaults = NeuralEmbedder.Configuration()
        XCTAssertEqual(defaults.measurementInterval(batchesPerEpoch: 2), 5)
        XCTAssertEqual(defaults.measurementPatience(batchesPerEpoch: 2), 6)
        XCTAssertEqual(defaults.measurementInterval(batchesPerEpoch: 12), 5)
        XCTAssertEqual(defaults.measurementPatience(batchesPerEpoch: 12), 5)
        XCTAssertEqual(defaults.measurementInterval(batchesPerEpoch: 400), 1)
        XCTAssertEqual(defaults.measurementPatience(batchesPerEpoch: 400), 2)
        var impatient = defaults
        impatient.patience = 1
        XCTAssertEqual(impatient.measurementPatience(batchesPerEpoch: 400), 1)
        XCTAssertEqual(impatient.measurementPatience(batchesPerEpoch: 2), 1)
    }

    func testGenreVectorsAreTheMeansOfTheirMovies() throws {
        let problem = LowRankProblem(users: 30, movies: 20, rank: 2, density: 0.5, seed: 15, genres: true)
        let model = try NeuralEmbedder(configuration: smallConfiguration()).fit(problem.dataset)
        let genres = problem.dataset.genres
        XCTAssertEqual(model.genreNames, genres.names)
        XCTAssertEqual(model.genreFactors.count, genres.genreCount * model.k)
        for g in 0..<genres.genreCount {
            let members = (0..<genres.movieCount).filter { genres.genres(ofMovie: $0).contains(Int32(g)) }
            for f in 0..<model.k {
                let mean = members.map { model.movieFactors[$0 * model.k + f] }.reduce(0, +) / Float(max(members.count, 1))
                XCTAssertEqual(model.genreFactors[g * model.k + f], mean, accuracy: 1e-5)
            }
        }
        let reloaded = try FactorModel.deserialize(bytes: model.serialized())
        XCTAssertEqual(reloaded.genreFactors, model.genreFactors)
        XCTAssertEqual(reloaded.encoder, model.encoder)
    }

    func testNoLikedMovieOrBadParametersAreErrors() throws {
        let problem = LowRankProblem(users: 10, movies: 10, rank: 2, density: 0.5, seed: 14)
        var configuration = smallConfiguration()
        configuration.likedThreshold = 100
        XCTAssertThrowsError(try NeuralEmbedder(configuration: configuration).fit(problem.dataset)) { error in
            guard case ModelError.emptyData = error else { return XCTFail("\(error)") }
        }
        configuration = smallConfiguration()
        configuration.dropout = 1
        XCTAssertThrowsError(try NeuralEmbedder(configuration: configuration).fit(problem.dataset)) { error in
            guard case ModelError.invalidParameter(let name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "dropout")
        }
    }

    func testSaveLoadRoundTripKeepsTheEncoderAndVersionOneStillLoads() throws {
        let problem = LowRankProblem(users: 30, movies: 20, rank: 2, density: 0.5, seed: 13)
        let model = try NeuralEmbedder(configuration: smallConfiguration(hidden: 6)).fit(problem.dataset)
        let bytes = model.serialized()
        XCTAssertEqual(bytes[8], 2, "a model with an encoder is written as version 2")
        let loaded = try FactorModel.deserialize(bytes: bytes)
        XCTAssertEqual(loaded.encoder, model.encoder)
        XCTAssertEqual(loaded.userFactors, model.userFactors)
        XCTAssertEqual(loaded.movieFactors, model.movieFactors)
        XCTAssertEqual(loaded.movieBias, model.movieBias)
        XCTAssertEqual(loaded.kind, .neural)
        XCTAssertThrowsError(try FactorModel.deserialize(bytes: Array(bytes.prefix(bytes.count - 9)) + bytes.suffix(8)))

        var plain = model
        plain.encoder = nil
        let versionOne = plain.serialized()
        XCTAssertEqual(versionOne[8], 1, "a model without an encoder stays version 1")
        XCTAssertNil(try FactorModel.deserialize(bytes: versionOne).encoder)
    }

    /// ML-100K, random 90/10 split: NDCG@10 over all movies not rated in training at least
    /// twice the popularity baseline's. The default configuration except Adam's step size
    /// 3e-3 instead of 1e-3, which keeps the test short: measured with `latent train neural
    /// --holdout 0.1 --seed 2024` it reaches about the same NDCG@10 (0.296 against 0.298 here,
    /// 0.237 against 0.236 on ML-latest-small) in a third to a half of the epochs.
    func testML100KRankingAtLeastTwicePopularity() throws {
        let dataset = try loadML100K()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 2024)
        let started = Date()
        let model = try NeuralEmbedder(configuration: .init(learningRate: 0.003, seed: 42)).fit(
            ratings: split.train, users: dataset.users, movies: dataset.movies)
        let seconds = Date().timeIntervalSince(started)
        let neural = try Evaluation.ranking(of: model, train: split.train, test: split.test, k: 10)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: split.train, test: split.test, k: 10)
        print("neural ML-100K 90/10: ndcg@10 \(String(format: "%.4f", neural.ndcg)) popularity \(String(format: "%.4f", popular.ndcg)) "
            + "ratio \(String(format: "%.2f", neural.ndcg / popular.ndcg)) fit_seconds \(String(format: "%.1f", seconds)) "
            + "epochs \(model.parameters["epochsTrained"] ?? "?") validation_ndcg \(model.parameters["validationNDCG"] ?? "?")")
        XCTAssertGreaterThanOrEqual(neural.ndcg, 2 * popular.ndcg)
    }
}
