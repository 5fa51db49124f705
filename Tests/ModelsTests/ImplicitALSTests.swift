import Foundation
import XCTest
import Models

/// ALS with the ranking objective (kind "ials"): the Gram-matrix objective against a brute
/// force over all pairs, exact block descent, determinism, fold-in, and accuracy on ML-100K.
final class ImplicitALSTests: XCTestCase {
    private func configuration(k: Int = 5, confidenceWeight: Float = 0.5, exponent: Float = 1) -> AlternatingLeastSquares.Configuration {
        var c = AlternatingLeastSquares.Configuration.rankingDefaults
        c.k = k
        c.lambda = 0.05
        c.tau = 0.5
        c.unobservedWeight = 0.2
        c.confidenceWeight = confidenceWeight
        c.positiveThreshold = 3
        c.regularizationExponent = exponent
        c.seed = 9
        c.threads = 2
        return c
    }

    private func trainer(_ problem: LowRankProblem, _ c: AlternatingLeastSquares.Configuration) throws -> ALSTrainer {
        let pairs = c.rankingPairs(problem.observed)
        let sparse = SparseRatings(pairs, userCount: problem.dataset.users.count, movieCount: problem.dataset.movies.count)
        return try ALSTrainer(configuration: c, ratings: sparse, genres: problem.dataset.genres)
    }

    /// The trainer's objective (all-pairs term through the Gram matrix) equals a brute force
    /// over every pair of a rated user and a rated movie, written out from its definition.
    func testGramObjectiveEqualsBruteForceOverAllPairs() throws {
        let problem = LowRankProblem(users: 25, movies: 18, rank: 2, density: 0.4, seed: 31, genres: true)
        for exponent: Float in [0, 1] {
            let c = configuration(k: 3, exponent: exponent)
            var trainer = try trainer(problem, c)
            for _ in 0..<3 { try trainer.iterate() }
            let k = c.k, users = problem.dataset.users.count, movies = problem.dataset.movies.count
            var confidence = [[Float?]](repeating: [Float?](repeating: nil, count: movies), count: users)
            for i in 0..<problem.observed.count where problem.observed.ratings[i] >= c.positiveThreshold {
                confidence[Int(problem.observed.users[i])][Int(problem.observed.movies[i])] = 1 + c.confidenceWeight * problem.observed.ratings[i]
            }
            let ratedUsers = (0..<users).filter { u in confidence[u].contains { $0 != nil } }
            let ratedMovies = (0..<movies).filter { m in confidence.contains { $0[m] != nil } }
            func dot(_ u: Int, _ m: Int) -> Double {
                (0..<k).reduce(0.0) { $0 + Double(trainer.userFactors[u * k + $1]) * Double(trainer.movieFactors[m * k + $1]) }
            }
            func penalty(_ n: Int, _ others: Int) -> Double {
                Double(c.lambda) * pow(Double(n) + Double(c.unobservedWeight) * Double(others), Double(exponent))
            }
            var expected = 0.0
            for u in ratedUsers {
                for m in ratedMovies {
                    let s = dot(u, m)
                    expected += 0.5 * Double(c.unobservedWeight) * s * s
                    if let w = confidence[u][m] { expected += 0.5 * Double(w) * (1 - s) * (1 - s) }
                }
                let n = confidence[u].filter { $0 != nil }.count
                expected += 0.5 * penalty(n, ratedMovies.count) * (0..<k).reduce(0.0) { $0 + pow(Double(trainer.userFactors[u * k + $1]), 2) }
            }
            for m in ratedMovies {
                let n = confidence.filter { $0[m] != nil }.count
                let genres = problem.dataset.genres.genres(ofMovie: m)
                var norm = 0.0
                for d in 0..<k {
                    let prior = genres.reduce(0.0) { $0 + Double(trainer.genreFactors[Int($1) * k + d]) } / Double(genres.count).squareRoot()
                    norm += pow(Double(trainer.movieFactors[m * k + d]) - prior, 2)
                }
                expected += 0.5 * penalty(n, ratedUsers.count) * norm
            }
            expected += 0.5 * Double(c.tau) * trainer.genreFactors.reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertEqual(trainer.objective(), expected, accuracy: 1e-4 * expected, "exponent \(exponent)")
            XCTAssertTrue(trainer.userBias.allSatisfy { $0 == 0 } && trainer.movieBias.allSatisfy { $0 == 0 }, "no biases")
        }
    }

    /// Every half-step is a block minimisation (exact by Cholesky, or conjugate-gradient steps
    /// from the previous vector, each of which lowers the row's objective), so the objective
    /// never increases.
    func testEveryHalfStepDoesNotIncreaseTheObjective() throws {
        let problem = LowRankProblem(users: 80, movies: 60, rank: 4, density: 0.3, seed: 32, genres: true)
        for steps in [0, 3] {
            for (exponent, confidenceWeight): (Float, Float) in [(1, 0), (1, 0.5), (0, 0.2)] {
                var c = configuration(confidenceWeight: confidenceWeight, exponent: exponent)
                c.conjugateGradientSteps = steps
                var trainer = try trainer(problem, c)
                let (start, end) = try assertNoHalfStepIncreasesTheObjective(
                    &trainer, iterations: 8, "steps \(steps), exponent \(exponent), confidence \(confidenceWeight)")
                XCTAssertLessThan(end, 0.8 * start, "the objective fell")
                XCTAssertFalse(trainer.genreFactors.allSatisfy { $0 == 0 }, "genre vectors were learned")
            }
        }
    }

    /// Conjugate gradient solves a k-dimensional system in k steps: with k steps per row the
    /// model is the exact solve's; with one step it is not (so the comparison can fail). More
    /// rows than a half-step has chunks, so the solves run in blocks of several rows.
    func testConjugateGradientWithKStepsMatchesTheExactSolve() throws {
        let problem = LowRankProblem(users: 900, movies: 400, rank: 3, density: 0.03, seed: 35, genres: true)
        var exact = configuration(k: 5)
        (exact.iterations, exact.conjugateGradientSteps) = (3, 0)
        func distance(steps: Int) throws -> Float {
            var c = exact
            c.conjugateGradientSteps = steps
            let a = try AlternatingLeastSquares(configuration: exact).fit(problem.dataset)
            let b = try AlternatingLeastSquares(configuration: c).fit(problem.dataset)
            let diff = zip(a.movieFactors, b.movieFactors).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            let norm = a.movieFactors.reduce(Float(0)) { $0 + $1 * $1 }
            return (diff / norm).squareRoot()
        }
        XCTAssertLessThan(try distance(steps: 5), 1e-3, "5 steps at k = 5")
        XCTAssertGreaterThan(try distance(steps: 1), 1e-2, "1 step at k = 5")
    }

    func testSameSeedSameModelAndKindIALS() throws {
        let problem = LowRankProblem(users: 60, movies: 40, rank: 2, density: 0.4, seed: 33, genres: true)
        var c = configuration(k: 4)
        c.iterations = 4
        let first = try AlternatingLeastSquares(configuration: c).fit(problem.dataset)
        c.threads = 1
        let second = try AlternatingLeastSquares(configuration: c).fit(problem.dataset)
        XCTAssertEqual(first.kind, .ials)
        XCTAssertEqual(first.userFactors, second.userFactors)
        XCTAssertEqual(first.movieFactors, second.movieFactors)
        XCTAssertEqual(first.globalMean, 0)
        XCTAssertTrue(first.userBias.allSatisfy { $0 == 0 } && first.movieBias.allSatisfy { $0 == 0 })
        c.seed = 10
        let other = try AlternatingLeastSquares(configuration: c).fit(problem.dataset)
        XCTAssertNotEqual(first.movieFactors, other.movieFactors)
        XCTAssertEqual(ModelConfiguration.ials(c).predictsRatings, false)
        XCTAssertThrowsError(try ModelConfiguration.als(c).validate(), "als with the ranking objective is the ials kind")
    }

    /// A training user folded back in from their ratings (the movie side fixed, as the live
    /// path does) gets back their trained vector: fold-in solves the training's user step.
    func testFoldInReproducesTrainedUsers() throws {
        let problem = LowRankProblem(users: 150, movies: 100, rank: 4, density: 0.3, seed: 34, genres: true)
        var c = configuration(k: 6)
        c.iterations = 150
        let model = try AlternatingLeastSquares(configuration: c).fit(problem.dataset)
        var worst: Float = 0
        let context = try FoldInRegularization(model: model).context(for: model)
        XCTAssertNotNil(context)
        for u in stride(from: 0, to: 150, by: 7) {
            var ratings: [(movieID: Int64, rating: Float)] = []
            for i in 0..<problem.observed.count where Int(problem.observed.users[i]) == u {
                ratings.append((problem.dataset.movies.ids[Int(problem.observed.movies[i])], problem.observed.ratings[i]))
            }
            let folded = try model.foldIn(ratings: ratings, context: context)
            XCTAssertEqual(folded.bias, 0)
            var diff: Float = 0, norm: Float = 0
            for d in 0..<model.k {
                let t = model.userFactors[u * model.k + d]
                diff += (folded.vector[d] - t) * (folded.vector[d] - t)
                norm += t * t
            }
            XCTAssertGreaterThan(norm, 0, "user \(u) has a trained vector")
            worst = max(worst, (diff / max(norm, 1e-6)).squareRoot())
        }
        XCTAssertLessThan(worst, 1e-2, "largest relative vector difference")
        // Only ratings at or above the threshold are positives: a user with none gets a zero vector.
        XCTAssertEqual(try model.foldIn(ratings: [(movieID: 1000, rating: 1)]).vector, [Float](repeating: 0, count: 6))
    }

    /// ML-100K, random 90/10 split (seeded): NDCG@10 over all movies not rated in training,
    /// held-out ratings >= 4 relevant, at least twice the popularity baseline's.
    func testML100KRankingAtLeastTwicePopularity() throws {
        let dataset = try loadML100K()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 2024)
        let started = Date()
        let model = try ModelConfiguration.ials(.rankingDefaults).fit(split.train, of: dataset)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(model.kind, .ials)
        let ials = try Evaluation.ranking(of: model, train: split.train, test: split.test, k: 10)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: split.train, test: split.test, k: 10)
        print("ials ML-100K 90/10: ndcg@10 \(String(format: "%.4f", ials.ndcg)) popularity \(String(format: "%.4f", popular.ndcg)) "
            + "ratio \(String(format: "%.2f", ials.ndcg / popular.ndcg)) fit_seconds \(String(format: "%.1f", seconds))")
        XCTAssertGreaterThanOrEqual(ials.ndcg, 2 * popular.ndcg)
    }
}
