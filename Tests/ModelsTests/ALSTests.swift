import XCTest
import Models

/// A synthetic exactly-low-rank problem: ratings = mu + b_u + b_i + p_u . q_i with no noise.
/// Runs `iterations` iterations half-step by half-step, asserting that none increases the
/// objective (each is an exact block minimisation); returns the objective before and after.
func assertNoHalfStepIncreasesTheObjective(
    _ trainer: inout ALSTrainer, iterations: Int, _ label: String, file: StaticString = #filePath, line: UInt = #line
) throws -> (start: Double, end: Double) {
    let start = trainer.objective()
    var previous = start
    for iteration in 0..<iterations {
        try trainer.updateUsers()
        let afterUsers = trainer.objective()
        XCTAssertLessThanOrEqual(afterUsers, previous * (1 + 1e-5) + 1e-6, "user step, iteration \(iteration), \(label)", file: file, line: line)
        try trainer.updateMovies()
        let afterMovies = trainer.objective()
        XCTAssertLessThanOrEqual(afterMovies, afterUsers * (1 + 1e-5) + 1e-6, "movie step, iteration \(iteration), \(label)", file: file, line: line)
        trainer.updateGenres()
        let afterGenres = trainer.objective()
        XCTAssertLessThanOrEqual(afterGenres, afterMovies * (1 + 1e-5) + 1e-6, "genre step, iteration \(iteration), \(label)", file: file, line: line)
        previous = afterGenres
    }
    return (start, previous)
}

struct LowRankProblem {
    var dataset: Dataset
    var observed: RatingTriples
    var hidden: RatingTriples

    init(users: Int, movies: Int, rank: Int, density: Double, seed: UInt64, genres: Bool = false) {
        var rng = TestRandom(seed: seed)
        let p = (0..<(users * rank)).map { _ in Float(rng.nextGaussian()) * 0.7 }
        let q = (0..<(movies * rank)).map { _ in Float(rng.nextGaussian()) * 0.7 }
        let bu = (0..<users).map { _ in Float(rng.nextGaussian()) * 0.3 }
        let bi = (0..<movies).map { _ in Float(rng.nextGaussian()) * 0.3 }
        var userIndex = IDIndex(), movieIndex = IDIndex()
        for u in 0..<users { userIndex.insert(Int64(u + 1)) }
        for m in 0..<movies { movieIndex.insert(Int64(1000 + m)) }
        var incidence = GenreIncidence()
        let names = ["Drama", "Comedy", "Action", "Horror"]
        for m in 0..<movies { incidence.appendMovie(genres: genres ? [names[m % 4], names[(m / 4) % 4]] : []) }
        var all = RatingTriples(), observed = RatingTriples(), hidden = RatingTriples()
        for u in 0..<users {
            for m in 0..<movies {
                var r: Float = 3 + bu[u] + bi[m]
                for d in 0..<rank { r += p[u * rank + d] * q[m * rank + d] }
                all.append(user: Int32(u), movie: Int32(m), rating: r, timestamp: 0)
                if rng.nextDouble() < density {
                    observed.append(user: Int32(u), movie: Int32(m), rating: r, timestamp: 0)
                } else if rng.nextDouble() < 0.1 {
                    hidden.append(user: Int32(u), movie: Int32(m), rating: r, timestamp: 0)
                }
            }
        }
        dataset = Dataset(users: userIndex, movies: movieIndex, ratings: observed, genres: incidence,
                          titles: [String](repeating: "", count: movies))
        self.observed = observed
        self.hidden = hidden
    }
}

func rmse(_ model: FactorModel, _ triples: RatingTriples, clip: Bool = true) -> Double {
    var s = 0.0
    for i in 0..<triples.count {
        let u = Int(triples.users[i]), m = Int(triples.movies[i])
        var prediction: Float
        if clip {
            prediction = model.predict(user: u, movie: m)
        } else {
            prediction = model.globalMean + model.userBias[u] + model.movieBias[m]
            for d in 0..<model.k { prediction += model.userFactors[u * model.k + d] * model.movieFactors[m * model.k + d] }
        }
        let e = Double(triples.ratings[i] - prediction)
        s += e * e
    }
    return (s / Double(max(triples.count, 1))).squareRoot()
}

final class ALSTests: XCTestCase {
    func testRecoversExactlyLowRankMatrix() throws {
        let problem = LowRankProblem(users: 120, movies: 90, rank: 3, density: 0.5, seed: 1)
        let configuration = AlternatingLeastSquares.Configuration(
            k: 3, iterations: 60, lambda: 1e-4, gamma: 1e-4, regularizationExponent: 0, useGenres: false, seed: 3, threads: 2)
        let model = try AlternatingLeastSquares(configuration: configuration).fit(problem.dataset)
        let train = rmse(model, problem.observed, clip: false)
        let held = rmse(model, problem.hidden, clip: false)
        XCTAssertLessThan(train, 0.01, "training RMSE \(train)")
        XCTAssertLessThan(held, 0.01, "held-out RMSE \(held)")
        XCTAssertEqual(model.kind, .als)
        XCTAssertEqual(model.k, 3)
    }

    func testEveryHalfStepDoesNotIncreaseTheObjective() throws {
        let problem = LowRankProblem(users: 80, movies: 60, rank: 4, density: 0.3, seed: 2, genres: true)
        for (exponent, missingWeight): (Float, Float) in [(0, 0), (1, 0), (0, 0.05), (1, 0.2)] {
            let configuration = AlternatingLeastSquares.Configuration(
                k: 5, iterations: 1, lambda: 0.5, gamma: 2, tau: 0.3, regularizationExponent: exponent,
                useGenres: true, seed: 4, threads: 2, missingWeight: missingWeight, missingRating: 1.5)
            let sparse = SparseRatings(problem.observed, userCount: problem.dataset.users.count, movieCount: problem.dataset.movies.count)
            var trainer = try ALSTrainer(configuration: configuration, ratings: sparse, genres: problem.dataset.genres)
            _ = try assertNoHalfStepIncreasesTheObjective(&trainer, iterations: 8, "exponent \(exponent), missing \(missingWeight)")
            XCTAssertFalse(trainer.genreFactors.allSatisfy { $0 == 0 }, "genre vectors were learned")
        }
    }

    func testDeterministicForAFixedSeedWhateverTheThreadCount() throws {
        let problem = LowRankProblem(users: 60, movies: 40, rank: 2, density: 0.4, seed: 5, genres: true)
        var configuration = AlternatingLeastSquares.Configuration(k: 4, iterations: 5, seed: 11, threads: 1)
        let a = try AlternatingLeastSquares(configuration: configuration).fit(problem.dataset)
        configuration.threads = 2
        let b = try AlternatingLeastSquares(configuration: configuration).fit(problem.dataset)
        XCTAssertEqual(a.userFactors, b.userFactors)
        XCTAssertEqual(a.movieFactors, b.movieFactors)
        XCTAssertEqual(a.genreFactors, b.genreFactors)
        configuration.seed = 12
        let c = try AlternatingLeastSquares(configuration: configuration).fit(problem.dataset)
        XCTAssertNotEqual(a.movieFactors, c.movieFactors)
    }

    func testColdStartMovieGetsItsGenrePrior() throws {
        var problem = LowRankProblem(users: 50, movies: 40, rank: 2, density: 0.5, seed: 6, genres: true)
        // Add a catalogue-only movie with two genres.
        problem.dataset.movies.insert(999_999)
        problem.dataset.genres.appendMovie(genres: ["Drama", "Action"])
        problem.dataset.titles.append("Unrated")
        let model = try AlternatingLeastSquares(configuration: .init(k: 4, iterations: 5, threads: 2)).fit(problem.dataset)
        let m = Int(model.movies[999_999]!)
        let drama = model.genreNames.firstIndex(of: "Drama")!, action = model.genreNames.firstIndex(of: "Action")!
        let k = model.k
        for d in 0..<k {
            let prior = (model.genreFactors[drama * k + d] + model.genreFactors[action * k + d]) / Float(2).squareRoot()
            XCTAssertEqual(model.movieFactors[m * k + d], prior, accuracy: 1e-6)
        }
        XCTAssertEqual(model.movieBias[m], 0)
        XCTAssertTrue(model.genreFactors.contains { $0 != 0 })
    }

    func testBiasesOnlyWithKZero() throws {
        let problem = LowRankProblem(users: 30, movies: 20, rank: 1, density: 0.6, seed: 7)
        let model = try AlternatingLeastSquares(configuration: .init(k: 0, iterations: 3, threads: 2)).fit(problem.dataset)
        XCTAssertEqual(model.k, 0)
        XCTAssertTrue(model.userFactors.isEmpty)
        XCTAssertTrue(rmse(model, problem.observed).isFinite)
    }

    func testAWarmRefitFromTheValidationFitMatchesAColdFitInAFifthOfTheIterations() throws {
        let data = try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: MovieLensTestFiles.latestSmallMovies)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 4)
        let configuration = AlternatingLeastSquares.Configuration(k: 16, iterations: 15)
        let als = AlternatingLeastSquares(configuration: configuration)
        let validated = try als.fit(ratings: split.train, users: data.users, movies: data.movies, genres: data.genres)
        let cold = try als.fit(ratings: data.ratings, users: data.users, movies: data.movies, genres: data.genres)
        let warm = try ModelConfiguration.als(configuration).refit(data.ratings, of: data, from: validated)
        let short = try als.fit(
            ratings: data.ratings, users: data.users, movies: data.movies, genres: data.genres, iterations: configuration.warmIterations)
        let (coldError, warmError, shortError) = (rmse(cold, data.ratings), rmse(warm, data.ratings), rmse(short, data.ratings))
        XCTAssertEqual(configuration.warmIterations, 3)
        XCTAssertLessThan(warmError, coldError * 1.01, "warm \(warmError) against cold \(coldError)")
        XCTAssertLessThan(warmError, shortError, "warm \(warmError) against 3 cold iterations \(shortError)")
        XCTAssertLessThan(rmse(warm, split.test), rmse(validated, split.test), "the refit has seen the held-out ratings")
        XCTAssertThrowsError(try als.fit(
            ratings: data.ratings, users: data.users, movies: data.movies, genres: data.genres,
            startingFrom: try AlternatingLeastSquares(configuration: .init(k: 8, iterations: 1)).fit(
                ratings: split.train, users: data.users, movies: data.movies, genres: data.genres)))
    }

    func testBadInputIsAClearError() {
        let problem = LowRankProblem(users: 10, movies: 10, rank: 1, density: 0.5, seed: 8)
        XCTAssertThrowsError(try AlternatingLeastSquares(configuration: .init(k: -1)).fit(problem.dataset)) { error in
            XCTAssertTrue("\(error)".contains("k"), "\(error)")
        }
        XCTAssertThrowsError(try AlternatingLeastSquares(configuration: .init(lambda: 0)).fit(problem.dataset))
        var empty = problem.dataset
        empty.ratings = RatingTriples()
        XCTAssertThrowsError(try AlternatingLeastSquares().fit(empty))
        var bad = problem.dataset
        bad.ratings.ratings[0] = .nan
        XCTAssertThrowsError(try AlternatingLeastSquares().fit(bad)) { error in
            guard case ModelError.invalidRating = error else { return XCTFail("\(error)") }
        }
    }
}
