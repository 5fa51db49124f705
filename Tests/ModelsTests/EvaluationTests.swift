import Records
import XCTest
import Models

final class EvaluationTests: XCTestCase {
    /// Two users, three movies, k = 1, hand-set parameters.
    private func tinyModel() -> FactorModel {
        FactorModel(
            kind: .mf, k: 1, globalMean: 3, userBias: [0.5, -0.5], movieBias: [0, 1, -1],
            userFactors: [1, -1], movieFactors: [1, 0, 0.5],
            users: IDIndex(ids: [10, 20]), movies: IDIndex(ids: [100, 200, 300]))
    }

    func testErrorsCountUnknownRowsInsteadOfDroppingThem() throws {
        let model = tinyModel()
        let records = [
            RatingRecord(userID: 10, movieID: 100, rating: 4.5, timestamp: 0),  // 3 + .5 + 0 + 1 = 4.5 exact
            RatingRecord(userID: 99, movieID: 200, rating: 4, timestamp: 0),   // unknown user: 3 + 1 = 4
            RatingRecord(userID: 20, movieID: 999, rating: 3.5, timestamp: 0), // unknown movie: 3 - .5 = 2.5
        ]
        let e = try Evaluation.errors(of: model, on: records)
        XCTAssertEqual(e.count, 3)
        XCTAssertEqual(e.unknownCount, 2)
        XCTAssertEqual(e.rmse, (1.0 / 3).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(e.mae, 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(e.mse, 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(e.knownRMSE, 0, accuracy: 1e-6)
        XCTAssertTrue(e.description.hasPrefix("rmse=0.5774 mae=0.3333 n=3"), e.description)
        XCTAssertThrowsError(try Evaluation.errors(of: model, on: [RatingRecord(userID: 10, movieID: 100, rating: .nan, timestamp: 0)]))
    }

    func testTriplesWithTrainingMarkUsersWithoutTrainingRatingsUnknown() {
        let model = tinyModel()
        var train = RatingTriples()
        train.append(user: 0, movie: 0, rating: 4, timestamp: 0)
        var test = RatingTriples()
        test.append(user: 1, movie: 0, rating: 3, timestamp: 0)  // user 1 has no training rating
        let e = Evaluation.errors(of: model, on: test, train: train)
        XCTAssertEqual(e.unknownCount, 1)
        XCTAssertEqual(e.rmse, 0, accuracy: 1e-6)  // mu + b_i = 3
    }

    func testRankingMetricsOnAHandMadeCase() throws {
        // User 0 prefers movie 0 (score 1), then 2 (0.5 - 1 = -0.5), then 1 (1 + 0 = 1)? b_i + p.q:
        // movie 0: 0 + 1 = 1; movie 1: 1 + 0 = 1; movie 2: -1 + 0.5 = -0.5.
        let model = tinyModel()
        var train = RatingTriples()
        train.append(user: 0, movie: 1, rating: 5, timestamp: 0)  // excluded from user 0's list
        var test = RatingTriples()
        test.append(user: 0, movie: 2, rating: 4, timestamp: 0)   // relevant, ranked second
        test.append(user: 1, movie: 0, rating: 2, timestamp: 0)   // not relevant: user 1 not evaluated
        let r = try Evaluation.ranking(of: model, train: train, test: test, k: 2)
        XCTAssertEqual(r.users, 1)
        XCTAssertEqual(r.precision, 0.5, accuracy: 1e-9)
        XCTAssertEqual(r.recall, 1, accuracy: 1e-9)
        XCTAssertEqual(r.ndcg, 1 / log2(3.0), accuracy: 1e-9)
        XCTAssertEqual(r.map, 0.5, accuracy: 1e-9)
        XCTAssertEqual(r.coverage, 2.0 / 3, accuracy: 1e-9)
        XCTAssertThrowsError(try Evaluation.ranking(of: model, train: train, test: test, k: 0))
    }

    func testRankingOnRealDataIsDeterministic() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 1)
        let model = try MatrixFactorizationSGD(configuration: .init(k: 32)).fit(ratings: split.train, users: data.users, movies: data.movies)
        let popular = try Evaluation.popularityRanking(
            userCount: data.users.count, movieCount: data.movies.count, train: split.train, test: split.test)
        let one = try Evaluation.ranking(of: model, train: split.train, test: split.test, threads: 1)
        let two = try Evaluation.ranking(of: model, train: split.train, test: split.test, threads: 2)
        XCTAssertEqual(one, two)
        XCTAssertGreaterThan(popular.ndcg, 0)
        XCTAssertGreaterThan(one.users, 100)
        XCTAssertGreaterThan(one.coverage, 0)
        print("latest-small ranking: mf \(one) | popularity \(popular)")
    }

    func testSeveralCutoffsInOnePassEqualOnePassEachAndASampleIsDeterministic() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 2)
        let model = try MatrixFactorizationSGD(configuration: .init(k: 16, epochs: 5)).fit(
            ratings: split.train, users: data.users, movies: data.movies)
        let together = try Evaluation.ranking(of: model, train: split.train, test: split.test, cutoffs: [20, 5, 10])
        for metrics in together {
            let alone = try Evaluation.ranking(of: model, train: split.train, test: split.test, k: metrics.k)
            XCTAssertEqual(metrics.ndcg, alone.ndcg, accuracy: 1e-12, "k \(metrics.k)")
            XCTAssertEqual(metrics.recall, alone.recall, accuracy: 1e-12, "k \(metrics.k)")
            XCTAssertEqual(metrics.map, alone.map, accuracy: 1e-12, "k \(metrics.k)")
            XCTAssertEqual(metrics.coverage, alone.coverage, accuracy: 1e-12, "k \(metrics.k)")
        }
        XCTAssertEqual(together.map(\.k), [20, 5, 10])
        XCTAssertLessThan(together[1].coverage, together[0].coverage, "a shorter list covers less of the catalogue")

        let sample = RankingSample(maxUsers: 100, seed: 7)
        let a = try Evaluation.ranking(of: model, train: split.train, test: split.test, cutoffs: [10], sample: sample, threads: 1)
        let b = try Evaluation.ranking(of: model, train: split.train, test: split.test, cutoffs: [10], sample: sample, threads: 2)
        let other = try Evaluation.ranking(
            of: model, train: split.train, test: split.test, cutoffs: [10], sample: RankingSample(maxUsers: 100, seed: 8))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a[0].users, 100)
        XCTAssertNotEqual(a[0].ndcg, other[0].ndcg, "another seed draws other users")
        let everyone = try Evaluation.ranking(
            of: model, train: split.train, test: split.test, cutoffs: [10], sample: RankingSample(maxUsers: 1_000_000))
        XCTAssertEqual(everyone[0], together[2])
        XCTAssertThrowsError(try Evaluation.ranking(of: model, train: split.train, test: split.test, cutoffs: []))
        XCTAssertThrowsError(try Evaluation.ranking(
            of: model, train: split.train, test: split.test, cutoffs: [10], sample: RankingSample(maxUsers: 0)))
    }

    func testPopularityByGlobalOrderEqualsScoringEveryMovie() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 3)
        var counts = [Float](repeating: 0, count: data.movies.count)
        for m in split.train.movies { counts[Int(m)] += 1 }
        // A k = 0 model whose movie bias is the count scores every movie like popularity.
        let scored = FactorModel(
            kind: .baseline, k: 0, globalMean: 0, userBias: [Float](repeating: 0, count: data.users.count), movieBias: counts,
            userFactors: [], movieFactors: [], users: data.users, movies: data.movies)
        let byScores = try Evaluation.ranking(of: scored, train: split.train, test: split.test, cutoffs: [10, 50])
        let byOrder = try Evaluation.popularityRanking(
            userCount: data.users.count, movieCount: data.movies.count, train: split.train, test: split.test, cutoffs: [10, 50])
        XCTAssertEqual(byOrder, byScores)
        XCTAssertGreaterThan(byOrder[0].ndcg, 0.05)
    }
}
