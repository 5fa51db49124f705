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
}
