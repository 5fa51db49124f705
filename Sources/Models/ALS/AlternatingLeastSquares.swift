import Foundation
import Logging

/// Alternating least squares with user and movie biases and a genre prior on the movie
/// vectors (seed 001, Algorithms 1 and 2). Fit it on a ``Dataset`` (or triples and indices)
/// to get a ``FactorModel`` of kind "als".
///
/// Symbols, against seed 001 (whose loss weights the data term by `lambda_seed`): dividing the
/// loss by `lambda_seed` as the seed does in §3.3.4,
/// - ``Configuration/lambda`` is the seed's `tau' = tau/lambda_seed`: the weight of the user and
///   movie vector penalties, which for movies is also the weight pulling the vector towards
///   its genre prior (the seed uses one `tau` for both);
/// - ``Configuration/gamma`` is the seed's `gamma' = gamma/lambda_seed`: bias regularisation;
/// - ``Configuration/tau`` is the genre vectors' own regularisation, the seed's `beta` term
///   (`f_k ~ N(0, beta I)`), which appears as the "+ 1" in the seed's genre update; the seed's
///   rule is `tau == lambda`.
/// Beyond the seed: an optional missing-data term (``Configuration/missingWeight``, on by
/// default) for better top-N lists, and count-weighted regularisation
/// (``Configuration/regularizationExponent``, off by default).
/// ``ALSTrainer`` documents the exact objective.
package struct AlternatingLeastSquares: Sendable {
    package struct Configuration: Sendable, Equatable {
        /// Latent dimensions (0 gives a biases-only model).
        package var k: Int
        /// Full iterations (users, movies, genres).
        package var iterations: Int
        /// Vector regularisation (seed 001's `tau'`), also the genre prior's pull on movies.
        package var lambda: Float
        /// Bias regularisation (seed 001's `gamma'`).
        package var gamma: Float
        /// Genre vector regularisation (seed 001's `beta` term; the seed has `tau == lambda`).
        package var tau: Float
        /// Scales the vector regularisation of a row with `n` ratings as `lambda * n^exponent`:
        /// 0 is the seed's constant penalty, 1 is ALS-WR's weighted-lambda regularisation.
        package var regularizationExponent: Float
        /// Draw movie vectors towards their genre prior and learn genre vectors (Algorithm 2).
        package var useGenres: Bool
        /// Seed of the initial movie vectors; same seed, same data, same model.
        package var seed: UInt64
        /// Worker threads for the per-row solves.
        package var threads: Int
        /// Standard deviation of the initial movie vectors.
        package var initialScale: Float
        /// Weight of the missing-not-at-random term (Steck 2010, "Training and testing of
        /// recommender systems on data missing not at random"): every unrated pair of a rated
        /// user and a rated movie counts as a rating ``missingRating`` with this weight. 0 is
        /// seed 001's model exactly; a small weight (the default) trades a little RMSE for much
        /// better top-N ranking, because the model then learns which movies people do not watch.
        /// Solved exactly with the same Cholesky updates through precomputed Gram sums.
        package var missingWeight: Float
        /// The rating imputed for unrated pairs when ``missingWeight`` > 0.
        package var missingRating: Float
        /// What the factors are fitted to: the ratings (seed 001), or which movies a user rates
        /// (implicit-feedback ALS, kind "ials"; see ``rankingDefaults``).
        package var objective: Objective = .rating
        /// Ranking objective: `alpha_0`, the weight of every (user, movie) pair's pull of its
        /// score towards 0 (Rendle et al. 2021); rated pairs also pull towards 1 with their confidence.
        package var unobservedWeight: Float = 0
        /// Ranking objective: a rated pair's confidence is `1 + confidenceWeight * rating`
        /// (Hu, Koren and Volinsky 2008); 0 weighs every positive alike.
        package var confidenceWeight: Float = 0
        /// Ranking objective: ratings below this are not positives (their pairs count as
        /// unobserved); 0 takes every rating.
        package var positiveThreshold: Float = 0
        /// Ranking objective: 0 solves every row exactly (Cholesky); a positive count takes
        /// that many conjugate-gradient steps from the row's previous vector instead (Takács,
        /// Pilászy and Tikk 2011), an order of magnitude fewer operations per row.
        package var conjugateGradientSteps = 0

        /// The loss ALS minimises.
        package enum Objective: String, Sendable, CaseIterable {
            /// Squared error of the ratings, with biases (seed 001).
            case rating
            /// Implicit feedback: rated pairs towards 1, all pairs weakly towards 0, no biases;
            /// scores rank movies and are not ratings.
            case ranking
        }

        /// Defaults tuned by grid search on ML-100K (5-fold CV) and ML-latest-small (random
        /// 90/10): constant regularisation as in the seed (`regularizationExponent` 0),
        /// `lambda` 14, `gamma` 3, genre prior on with `tau` 100 (small next to the combined
        /// pull of a genre's many movies), k 64, 15 iterations, and a light missing-data term
        /// (`missingWeight` 0.003 towards 2.5 stars) that makes top-N lists beat popularity
        /// (NDCG@10 0.117 vs 0.112 on ML-latest-small; 0.054 without it) at a small RMSE cost
        /// there (0.832 vs 0.817) and none on ML-100K.
        package init(
            k: Int = 64, iterations: Int = 15, lambda: Float = 14, gamma: Float = 3,
            tau: Float = 100, regularizationExponent: Float = 0, useGenres: Bool = true,
            seed: UInt64 = 42, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
            initialScale: Float = 0.1, missingWeight: Float = 0.003, missingRating: Float = 2.5
        ) {
            self.k = k
            self.iterations = iterations
            self.lambda = lambda
            self.gamma = gamma
            self.tau = tau
            self.regularizationExponent = regularizationExponent
            self.useGenres = useGenres
            self.seed = seed
            self.threads = threads
            self.initialScale = initialScale
            self.missingWeight = missingWeight
            self.missingRating = missingRating
        }

        /// Iterations of a warm refit (``ModelConfiguration/refit(_:of:from:progress:)``).
        package var warmIterations: Int { max(2, iterations / 5) }

        /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` for values out of range.
        package func validate() throws {
            try ParameterCheck.integer("k", k, in: 0...4096)
            try ParameterCheck.integer("iterations", iterations, atLeast: 1)
            try ParameterCheck.positive("lambda", lambda)
            try ParameterCheck.nonNegative("gamma", gamma)
            try ParameterCheck.positive("tau", tau)
            try ParameterCheck.real("regularizationExponent", regularizationExponent, in: .closed(0, 2))
            try ParameterCheck.integer("threads", threads, atLeast: 1)
            try ParameterCheck.positive("initialScale", initialScale)
            try ParameterCheck.real("missingWeight", missingWeight, in: .closedOpen(0, 1))
            try ParameterCheck.finite("missingRating", missingRating)
            guard objective == .ranking else { return }
            try ParameterCheck.integer("k", k, atLeast: 1, note: "with the ranking objective")
            try ParameterCheck.positive("unobservedWeight", unobservedWeight)
            try ParameterCheck.nonNegative("confidenceWeight", confidenceWeight)
            try ParameterCheck.nonNegative("positiveThreshold", positiveThreshold)
            try ParameterCheck.integer("conjugateGradientSteps", conjugateGradientSteps, in: 0...64)
        }

        /// The hyper-parameters as strings, for run metadata and the model file.
        package var parameters: [String: String] {
            [
                "k": "\(k)", "iterations": "\(iterations)", "lambda": "\(lambda)", "gamma": "\(gamma)",
                "tau": "\(tau)", "regularizationExponent": "\(regularizationExponent)",
                "useGenres": "\(useGenres)", "seed": "\(seed)", "initialScale": "\(initialScale)",
                "missingWeight": "\(missingWeight)", "missingRating": "\(missingRating)",
            ].merging(objective == .ranking ? [
                "objective": objective.rawValue, "unobservedWeight": "\(unobservedWeight)",
                "confidenceWeight": "\(confidenceWeight)", "positiveThreshold": "\(positiveThreshold)",
                "conjugateGradientSteps": "\(conjugateGradientSteps)",
            ] : [:]) { $1 }
        }
    }

    /// What one finished iteration reports.
    package struct Progress: Sendable {
        package var iteration: Int
        package var iterations: Int
        /// Root mean squared error of the ratings (ranking objective: of the rated pairs'
        /// scores against 1, confidence-weighted).
        package var trainingRMSE: Double
        /// The objective after the iteration; NaN on iterations that do not report it.
        package var objective: Double
        package var secondsThisIteration: Double
        package var secondsRemaining: Double
    }

    package var configuration: Configuration
    private let logger = Logger(label: "latent.als")

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Trains on all ratings of `dataset`.
    package func fit(_ dataset: Dataset, progress: (@Sendable (Progress) -> Void)? = nil) throws -> FactorModel {
        try fit(ratings: dataset.ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres, progress: progress)
    }

    /// Trains on `ratings`, whose indices refer to `users` and `movies`; every movie of
    /// `movies` gets a vector (its genre prior when it has no training ratings).
    ///
    /// - Parameters:
    ///   - start: a model of the same users, movies and k to continue from (see
    ///     ``ALSTrainer/warmStart(from:)``); `nil` starts from seeded noise.
    ///   - iterations: overrides the configuration's count (e.g. fewer when warm).
    package func fit(
        ratings: RatingTriples, users: IDIndex, movies: IDIndex, genres: GenreIncidence,
        startingFrom start: FactorModel? = nil, iterations: Int? = nil,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) throws -> FactorModel {
        var configuration = self.configuration
        if let iterations { configuration.iterations = iterations }
        try configuration.validate()
        guard !ratings.isEmpty else { throw ModelError.emptyData("no ratings to train on") }
        for i in 0..<ratings.count {
            let u = ratings.users[i], m = ratings.movies[i]
            guard u >= 0, Int(u) < users.count, m >= 0, Int(m) < movies.count else {
                throw ModelError.emptyData("rating \(i) refers to user index \(u) / movie index \(m) outside the id indices")
            }
            guard ratings.ratings[i].isFinite else {
                throw ModelError.invalidRating(movieID: movies.ids[Int(m)], rating: ratings.ratings[i])
            }
        }
        let ranking = configuration.objective == .ranking
        let pairs = ranking ? configuration.rankingPairs(ratings) : ratings
        guard !pairs.isEmpty else { throw ModelError.emptyData("no ratings at or above \(configuration.positiveThreshold) to train on") }
        let sparse = SparseRatings(pairs, userCount: users.count, movieCount: movies.count)
        var trainer = try ALSTrainer(configuration: configuration, ratings: sparse, genres: genres)
        if let start { try trainer.warmStart(from: start) }
        let started = Date()
        logger.info("ALS training", metadata: [
            "objective": "\(configuration.objective.rawValue)",
            "ratings": "\(ratings.count)", "users": "\(users.count)", "movies": "\(movies.count)",
            "k": "\(configuration.k)", "iterations": "\(configuration.iterations)",
            "lambda": "\(configuration.lambda)", "gamma": "\(configuration.gamma)",
            "genres": "\(configuration.useGenres ? genres.genreCount : 0)", "warm": "\(start != nil)",
        ])
        // The rows' solves run on this code's own workers; OpenBLAS threads woken by the
        // Gram matrices between them would spin on the cores those workers need.
        try BLAS.withThreadCount(1) { () throws -> Void in
            try iterate(&trainer, configuration: configuration, rows: sparse.count, ranking: ranking, progress: progress)
        }
        var parameters = configuration.parameters
        parameters["trainingSeconds"] = String(format: "%.3f", Date().timeIntervalSince(started))
        let genresUsed = configuration.useGenres && configuration.k > 0 && genres.genreCount > 0
        return FactorModel(
            kind: ranking ? .ials : .als, k: configuration.k, globalMean: trainer.globalMean,
            userBias: trainer.userBias, movieBias: trainer.movieBias,
            userFactors: trainer.userFactors, movieFactors: trainer.movieFactors,
            genreFactors: genresUsed ? trainer.genreFactors : [],
            users: users, movies: movies, genreNames: genresUsed ? genres.names : [],
            parameters: parameters)
    }

    /// The iterations of ``fit(ratings:users:movies:genres:startingFrom:iterations:progress:)``,
    /// each logged and reported.
    private func iterate(
        _ trainer: inout ALSTrainer, configuration: Configuration, rows: Int, ranking: Bool,
        progress: (@Sendable (Progress) -> Void)?
    ) throws {
        let started = Date()
        for iteration in 1...configuration.iterations {
            let iterationStart = Date()
            try trainer.iterate()
            let sse = trainer.lastSquaredError ?? 0
            let rmse = (sse / Double(rows)).squareRoot()
            guard rmse.isFinite else { throw ModelError.numerical("training diverged (RMSE is not finite) at iteration \(iteration)") }
            // The objective costs a pass over both sides' vectors and two Gram matrices: it is
            // reported every fifth iteration and at the end.
            let reportsObjective = iteration % 5 == 0 || iteration == configuration.iterations
            let objective = reportsObjective ? trainer.objectiveAfterMovieStep() ?? .nan : .nan
            let elapsed = Date().timeIntervalSince(started)
            let report = Progress(
                iteration: iteration, iterations: configuration.iterations, trainingRMSE: rmse, objective: objective,
                secondsThisIteration: Date().timeIntervalSince(iterationStart),
                secondsRemaining: elapsed / Double(iteration) * Double(configuration.iterations - iteration))
            var metadata: Logger.Metadata = [
                "iteration": "\(iteration)/\(configuration.iterations)", ranking ? "train_rms_to_1" : "train_rmse": "\(String(format: "%.4f", rmse))",
                "seconds": "\(String(format: "%.2f", report.secondsThisIteration))",
                "eta_seconds": "\(String(format: "%.0f", report.secondsRemaining))",
            ]
            if reportsObjective { metadata["objective"] = "\(String(format: "%.1f", objective))" }
            logger.info("ALS iteration", metadata: metadata)
            progress?(report)
        }
    }
}

extension AlternatingLeastSquares.Configuration: TrainerSettings {
    package var dimensions: Int { get { k } set { k = newValue } }
    package var effort: Int { get { iterations } set { iterations = newValue } }
    package static var trialEffort: Int { 5 }
}
