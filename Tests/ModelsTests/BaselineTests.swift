import Records
import XCTest
import Models

final class BaselineTests: XCTestCase {
    func testBiasesFollowUsersAndMovies() throws {
        var b = DatasetBuilder()
        // User 1 rates high, user 2 low; movie 10 is liked, movie 20 disliked.
        for (u, m, r) in [(1, 10, 5.0), (1, 20, 4.0), (2, 10, 3.0), (2, 20, 1.0), (3, 10, 4.0)] as [(Int64, Int64, Float)] {
            b.add(RatingRecord(userID: u, movieID: m, rating: r, timestamp: 0))
        }
        b.add(MovieRecord(movieID: 30, title: "Unrated", genres: []))
        let data = b.build()
        let model = try BiasBaseline(configuration: .init(userRegularisation: 0.1, movieRegularisation: 0.1)).fit(data)
        XCTAssertEqual(model.kind, .baseline)
        XCTAssertEqual(model.k, 0)
        XCTAssertEqual(model.globalMean, 3.4, accuracy: 1e-5)
        let u1 = Int(data.users[1]!), u2 = Int(data.users[2]!)
        let m10 = Int(data.movies[10]!), m20 = Int(data.movies[20]!), m30 = Int(data.movies[30]!)
        XCTAssertGreaterThan(model.userBias[u1], model.userBias[u2])
        XCTAssertGreaterThan(model.movieBias[m10], model.movieBias[m20])
        XCTAssertEqual(model.movieBias[m30], 0)  // catalogue-only movie
        XCTAssertEqual(model.predict(user: u1, movie: m30), model.globalMean + model.userBias[u1], accuracy: 1e-6)
    }

    func testBaselineAccuracyOnLatestSmall() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: nil)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 1)
        let model = try BiasBaseline().fit(ratings: split.train, users: data.users, movies: data.movies)
        let e = Evaluation.errors(of: model, on: split.test, train: split.train)
        XCTAssertLessThan(e.rmse, 0.90, "\(e)")  // global mean alone is ~1.04
    }

    func testInvalidConfiguration() {
        XCTAssertThrowsError(try BiasBaseline(configuration: .init(sweeps: 0)).fit(DatasetBuilder().build()))
        XCTAssertThrowsError(try BiasBaseline().fit(DatasetBuilder().build()))  // empty
    }
}
