import XCTest
import Models

final class FoldInTests: XCTestCase {
    /// A noisy low-rank problem trained to convergence: folding a training user back in from
    /// their own training ratings reproduces the trained bias and vector.
    func testFoldInReproducesTrainedUsers() throws {
        let problem = LowRankProblem(users: 150, movies: 100, rank: 4, density: 0.3, seed: 21, genres: true)
        for exponent: Float in [0, 1] {
            let configuration = AlternatingLeastSquares.Configuration(
                k: 6, iterations: 200, lambda: exponent == 0 ? 2 : 0.5, gamma: 3, regularizationExponent: exponent, seed: 1, threads: 2)
            let model = try AlternatingLeastSquares(configuration: configuration).fit(problem.dataset)
            var worst: Float = 0
            for u in stride(from: 0, to: 150, by: 7) {
                var ratings: [(movieID: Int64, rating: Float)] = []
                for i in 0..<problem.observed.count where Int(problem.observed.users[i]) == u {
                    ratings.append((problem.dataset.movies.ids[Int(problem.observed.movies[i])], problem.observed.ratings[i]))
                }
                let folded = try model.foldIn(ratings: ratings)
                let k = model.k
                var diff: Float = 0, norm: Float = 0
                for d in 0..<k {
                    let t = model.userFactors[u * k + d]
                    diff += (folded.vector[d] - t) * (folded.vector[d] - t)
                    norm += t * t
                }
                worst = max(worst, (diff / max(norm, 1e-6)).squareRoot())
                XCTAssertEqual(folded.bias, model.userBias[u], accuracy: 2e-3, "user \(u) bias, exponent \(exponent)")
            }
            XCTAssertLessThan(worst, 1e-2, "largest relative vector difference, exponent \(exponent)")
        }
    }

    func testFoldInEdgeCasesAndErrors() throws {
        let problem = LowRankProblem(users: 30, movies: 20, rank: 2, density: 0.5, seed: 22)
        var model = try AlternatingLeastSquares(configuration: .init(k: 3, iterations: 5, threads: 2)).fit(problem.dataset)
        let empty = try model.foldIn(ratings: [])
        XCTAssertEqual(empty.bias, 0)
        XCTAssertEqual(empty.vector, [0, 0, 0])
        XCTAssertThrowsError(try model.foldIn(ratings: [(movieID: 424_242, rating: 4)])) { error in
            XCTAssertEqual(error as? ModelError, .unknownMovie(424_242))
        }
        XCTAssertThrowsError(try model.foldIn(ratings: [(movieID: 1000, rating: .nan)])) { error in
            guard case ModelError.invalidRating = error else { return XCTFail("\(error)") }
        }
        // A repeated movie counts with its last rating.
        let twice = try model.foldIn(ratings: [(movieID: 1000, rating: 1), (movieID: 1001, rating: 5), (movieID: 1000, rating: 4)])
        let once = try model.foldIn(ratings: [(movieID: 1000, rating: 4), (movieID: 1001, rating: 5)])
        XCTAssertEqual(twice.bias, once.bias, accuracy: 1e-6)
        // Adding a new user, then replacing it.
        let added = try model.foldInUser(id: 777, ratings: [(movieID: 1002, rating: 5), (movieID: 1003, rating: 1)])
        let u = Int(model.users[777]!)
        XCTAssertEqual(model.userBias[u], added.bias)
        XCTAssertEqual(Array(model.userFactors[(u * 3)..<(u * 3 + 3)]), added.vector)
        XCTAssertEqual(model.userFactors.count, model.users.count * 3)
        let before = model.users.count
        try model.setUser(id: 777, bias: 0.5, vector: [1, 2, 3])
        XCTAssertEqual(model.users.count, before)
        XCTAssertEqual(model.userBias[u], 0.5)
        XCTAssertThrowsError(try model.setUser(id: 778, bias: 0, vector: [1]))
        XCTAssertNoThrow(try model.recommend(userID: 777, count: 3))
    }

    /// A baseline model folds a user in with its own user-bias penalty, not ALS's: the bias is
    /// the closed form `sum_j (r_j - mu - b_j) / (userRegularisation + n)`.
    func testBaselineFoldInUsesTheBaselinePenalty() throws {
        let problem = LowRankProblem(users: 40, movies: 25, rank: 2, density: 0.4, seed: 23)
        let model = try BiasBaseline(configuration: .init(userRegularisation: 10, movieRegularisation: 2)).fit(problem.dataset)
        let ratings: [(movieID: Int64, rating: Float)] = [(1000, 5), (1003, 4.5), (1007, 1)]
        var residual: Float = 0
        for (movieID, rating) in ratings { residual += rating - model.globalMean - model.movieBias[Int(model.movies[movieID]!)] }
        let folded = try model.foldIn(ratings: ratings)
        XCTAssertEqual(folded.bias, residual / (10 + 3), accuracy: 1e-5)
        XCTAssertEqual(folded.vector, [])
    }

    /// Each kind's settings come from its own saved parameters; a missing or unreadable one is
    /// an error naming it, never ALS's defaults.
    func testFoldInSettingsAreTypedByModelKind() throws {
        func model(_ kind: ModelKind, _ parameters: [String: String]) -> FactorModel {
            FactorModel(kind: kind, k: 1, globalMean: 3, userBias: [0], movieBias: [0], userFactors: [0], movieFactors: [1],
                        users: IDIndex(ids: [1]), movies: IDIndex(ids: [10]), parameters: parameters)
        }
        let mf = MatrixFactorizationSGD.Configuration(regularisation: 0.07, biasRegularisation: 0.01)
        XCTAssertEqual(try FoldInRegularization(model: model(.mf, mf.parameters)),
                       FoldInRegularization(lambda: 0.07, exponent: 1, gamma: 0.01, gammaExponent: 1))
        let als = AlternatingLeastSquares.Configuration(lambda: 9, gamma: 2, regularizationExponent: 0.5, missingWeight: 0.1, missingRating: 1)
        XCTAssertEqual(try FoldInRegularization(model: model(.als, als.parameters)),
                       FoldInRegularization(lambda: 9, exponent: 0.5, gamma: 2, missingWeight: 0.1, missingRating: 1))

        func assertRejected(_ kind: ModelKind, _ parameters: [String: String], naming name: String, line: UInt = #line) {
            XCTAssertThrowsError(try FoldInRegularization(model: model(kind, parameters)), line: line) { error in
                guard case let ModelError.invalidParameter(parameter, _, _) = error else { return XCTFail("\(error)", line: line) }
                XCTAssertTrue(parameter.contains(name), "\(parameter)", line: line)
            }
        }
        var withoutLambda = als.parameters
        withoutLambda["lambda"] = nil
        assertRejected(.als, withoutLambda, naming: "lambda")
        var unreadable = mf.parameters
        unreadable["regularisation"] = "lots"
        assertRejected(.mf, unreadable, naming: "regularisation")
        var outOfRange = als.parameters
        outOfRange["missingWeight"] = "1.5"
        assertRejected(.als, outOfRange, naming: "missingWeight")
        assertRejected(.mf, [:], naming: "regularisation")
        assertRejected(.baseline, [:], naming: "userRegularisation")
        assertRejected(.popularity, [:], naming: "kind")
    }

    func testFoldInCurveOnMLLatestSmall() throws {
        let dataset = try loadMLLatestSmall()
        let rows = try FoldInCurve.run(dataset, configuration: .init(
            ks: [2, 10], ratingCounts: [1, 5, 20], heldOutUserFraction: 0.15, training: .init(iterations: 8, missingWeight: 0)))
        XCTAssertEqual(rows.count, 3 * 3)
        for row in rows {
            XCTAssertTrue(row.rmse.isFinite && row.rmse > 0)
            XCTAssertGreaterThan(row.users, 0)
        }
        let reference = rows.first { $0.k == nil && $0.ratingsUsed == 20 }!
        let k10 = rows.filter { $0.k == 10 }.sorted { $0.ratingsUsed < $1.ratingsUsed }
        XCTAssertGreaterThan(k10[0].rmse, k10[2].rmse, "more ratings, better predictions")
        XCTAssertLessThan(k10[2].rmse, reference.rmse, "20 folded-in ratings beat the movie mean")
        for row in rows { print("FOLDIN k=\(row.k.map(String.init) ?? "mean") n=\(row.ratingsUsed) rmse=\(String(format: "%.4f", row.rmse)) users=\(row.users)") }
    }
}
