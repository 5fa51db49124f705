import Records
import XCTest
import Models

final class SGDTests: XCTestCase {
    /// A dataset whose ratings are exactly `mu + b_u + b_i + p_u . q_i` (rank 3, inside the scale).
    static func exactLowRank(users: Int = 300, movies: Int = 200, density: Double = 0.5, seed: UInt64 = 7) -> Dataset {
        var rng = SeededRandom(seed: seed)
        let k = 3
        let p = (0..<(users * k)).map { _ in Float(rng.nextGaussian()) * 0.5 }
        let q = (0..<(movies * k)).map { _ in Float(rng.nextGaussian()) * 0.5 }
        let bu = (0..<users).map { _ in Float(rng.nextGaussian()) * 0.2 }
        let bi = (0..<movies).map { _ in Float(rng.nextGaussian()) * 0.2 }
        var builder = DatasetBuilder()
        for u in 0..<users {
            for m in 0..<movies where rng.nextDouble() < density {
                var r: Float = 3 + bu[u] + bi[m]
                for f in 0..<k { r += p[u * k + f] * q[m * k + f] }
                builder.add(RatingRecord(userID: Int64(u + 1), movieID: Int64(m + 1), rating: min(max(r, 0.6), 4.9), timestamp: 0))
            }
        }
        return builder.build()
    }

    func testRecoversExactlyLowRankMatrix() throws {
        let data = Self.exactLowRank()
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 3)
        var c = MatrixFactorizationSGD.Configuration(
            k: 3, epochs: 300, learningRate: 0.02, biasLearningRate: 0.02, regularisation: 0, biasRegularisation: 0,
            validationFraction: 0, initialisation: .gaussian(standardDeviation: 0.1))
        c.adaptive = true
        let model = try MatrixFactorizationSGD(configuration: c).fit(ratings: split.train, users: data.users, movies: data.movies)
        let errors = Evaluation.errors(of: model, on: split.test, train: split.train)
        XCTAssertLessThan(errors.rmse, 0.01, "\(errors)")
        XCTAssertEqual(model.kind, .mf)
        XCTAssertEqual(model.k, 3)
    }

    func testSameSeedSameModelWhateverTheThreadCount() throws {
        let data = Self.exactLowRank(users: 120, movies: 80, density: 0.3)
        var c = MatrixFactorizationSGD.Configuration(k: 8, epochs: 30, threads: 1)
        let one = try MatrixFactorizationSGD(configuration: c).fit(data)
        c.threads = 2
        let two = try MatrixFactorizationSGD(configuration: c).fit(data)
        XCTAssertEqual(one.userFactors, two.userFactors)
        XCTAssertEqual(one.movieFactors, two.movieFactors)
        XCTAssertEqual(one.movieBias, two.movieBias)
        c.seed = 99
        let other = try MatrixFactorizationSGD(configuration: c).fit(data)
        XCTAssertNotEqual(one.userFactors, other.userFactors)
    }

    func testOptionsTrainFiniteModels() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 5)
        let variants: [MatrixFactorizationSGD.Configuration] = [
            .init(k: 16, epochs: 15, batchSize: 64, warmupEpochs: 0),
            .init(k: 16, epochs: 15, warmupEpochs: 0, gravity: 0.5),
            .init(k: 16, epochs: 15, warmupEpochs: 0, initialisation: .truncatedSVD(powerIterations: 2)),
            .init(k: 0, epochs: 15, warmupEpochs: 0),
        ]
        for c in variants {
            let model = try MatrixFactorizationSGD(configuration: c).fit(ratings: split.train, users: data.users, movies: data.movies)
            let errors = Evaluation.errors(of: model, on: split.test, train: split.train)
            XCTAssertTrue(errors.rmse.isFinite)
            XCTAssertLessThan(errors.rmse, 0.95, "\(c.parameters): \(errors)")
        }
    }

    func testBadInputIsAClearError() throws {
        let data = Self.exactLowRank(users: 10, movies: 10)
        XCTAssertThrowsError(try MatrixFactorizationSGD(configuration: .init(k: -1)).fit(data)) { error in
            XCTAssertTrue("\(error)".contains("k"), "\(error)")
        }
        XCTAssertThrowsError(try MatrixFactorizationSGD(configuration: .init(learningRate: .nan)).fit(data))
        XCTAssertThrowsError(
            try MatrixFactorizationSGD().fit(ratings: RatingTriples(), users: data.users, movies: data.movies)
        ) { error in
            XCTAssertEqual(error as? ModelError, .emptyData("no ratings to train on"))
        }
        var nan = data.ratings
        nan.ratings[0] = .nan
        XCTAssertThrowsError(try MatrixFactorizationSGD().fit(ratings: nan, users: data.users, movies: data.movies))
    }

    func testDivergenceIsRecoveredOrReported() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        // Adaptive: a diverging epoch is redone from the best parameters with a lower rate.
        let recovered = try MatrixFactorizationSGD(configuration: .init(
            k: 16, epochs: 8, learningRate: 0.9, biasLearningRate: 0.9, warmupEpochs: 0, refit: false)).fit(data)
        XCTAssertTrue(recovered.userFactors.allSatisfy(\.isFinite))
        // Fixed schedule: a clear error instead of a NaN model.
        XCTAssertThrowsError(try MatrixFactorizationSGD(configuration: .init(
            k: 16, epochs: 8, learningRate: 0.9, biasLearningRate: 0.9, adaptive: false, validationFraction: 0)).fit(data)
        ) { error in
            XCTAssertTrue("\(error)".contains("diverged"), "\(error)")
        }
    }

    /// Surprise's protocol: 5-fold cross-validation (Surprise publishes SVD 0.934, SVD++ 0.919).
    func testML100KFiveFoldRMSE() throws {
        let files = try MovieLensTestFiles.ml100k()
        let data = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        var total = 0.0
        for fold in try Splits.kFold(data.ratings, folds: 5, seed: 1) {
            let model = try MatrixFactorizationSGD().fit(ratings: fold.train, users: data.users, movies: data.movies)
            total += Evaluation.errors(of: model, on: fold.test, train: fold.train).rmse
        }
        let mean = total / 5
        print("MF-SGD ML-100K 5-fold mean RMSE: \(String(format: "%.4f", mean))")
        XCTAssertLessThanOrEqual(mean, 0.915, "ML-100K 5-fold mean RMSE \(mean)")
    }

    func testLatestSmallHoldoutRMSE() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: MovieLensTestFiles.latestSmallMovies)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 1)
        let model = try MatrixFactorizationSGD().fit(ratings: split.train, users: data.users, movies: data.movies)
        let errors = Evaluation.errors(of: model, on: split.test, train: split.train)
        print("MF-SGD ML-latest-small 90/10 RMSE: \(String(format: "%.4f", errors.rmse))")
        XCTAssertLessThanOrEqual(errors.rmse, 0.855, "ML-latest-small 90/10: \(errors)")
        XCTAssertGreaterThan(errors.unknownCount, 0)  // users/movies only in the test side are scored, not dropped
        XCTAssertEqual(errors.count, split.test.count)
    }
}
