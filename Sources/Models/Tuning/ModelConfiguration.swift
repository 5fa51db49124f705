/// Which model to train, with its hyper-parameters: the one switch between the trainers, so the
/// CLI, tuning and the scheduled jobs fit every model the same way.
package enum ModelConfiguration: Sendable, Equatable {
    case popularity
    case baseline(BiasBaseline.Configuration)
    case mf(MatrixFactorizationSGD.Configuration)
    case als(AlternatingLeastSquares.Configuration)
    case neural(NeuralEmbedder.Configuration)
    /// ALS with the ranking objective (its configuration's `objective` is `.ranking`).
    case ials(AlternatingLeastSquares.Configuration)
    case mlp(RatingMLP.Configuration)
    case ease(EASE.Configuration)
    case blend(EASEBlend.Configuration)

    /// "popularity", "baseline", "mf", "als" or "neural" (the `FactorModel.kind` it produces).
    package var kind: ModelKind {
        switch self {
        case .popularity: return .popularity
        case .baseline: return .baseline
        case .mf: return .mf
        case .als: return .als
        case .neural: return .neural
        case .ials: return .ials
        case .mlp: return .mlp
        case .ease: return .ease
        case .blend: return .blend
        }
    }

    /// Whether the model predicts ratings (its scores are clipped to the rating scale for
    /// readers, and RMSE measures it); popularity and the neural embedder only rank.
    package var predictsRatings: Bool {
        switch self {
        case .popularity, .neural, .ials, .ease, .blend: return false
        case .baseline, .mf, .als, .mlp: return true
        }
    }

    package var parameters: [String: String] {
        switch self {
        case .popularity: return [:]
        case .baseline(let c): return c.parameters
        case .mf(let c): return c.parameters
        case .als(let c), .ials(let c): return c.parameters
        case .neural(let c): return c.parameters
        case .mlp(let c): return c.parameters
        case .ease(let c): return c.parameters
        case .blend(let c): return c.parameters
        }
    }

    package func validate() throws {
        switch self {
        case .popularity: return
        case .baseline(let c): try c.validate()
        case .mf(let c): try c.validate()
        case .als(let c), .ials(let c):
            let objective: AlternatingLeastSquares.Configuration.Objective = kind == .ials ? .ranking : .rating
            guard c.objective == objective else {
                throw ModelError.invalidParameter(name: "objective", value: c.objective.rawValue, requirement: "\(objective.rawValue) for \(kind.rawValue)")
            }
            try c.validate()
        case .neural(let c): try c.validate()
        case .mlp(let c): try c.validate()
        case .ease(let c): try c.validate()
        case .blend(let c): try c.validate()
        }
    }

    /// Fits on `ratings`, whose indices refer to `dataset`'s users and movies (all of them, or a
    /// training split). Every movie of the dataset gets parameters, so a split's test rows and
    /// catalogue-only movies can still be scored.
    package func fit(_ ratings: RatingTriples, of dataset: Dataset, progress: ProgressReporter = .silent) throws -> FactorModel {
        switch self {
        case .popularity:
            return try Popularity().fit(ratings: ratings, users: dataset.users, movies: dataset.movies)
        case .baseline(let c):
            return try BiasBaseline(configuration: c).fit(ratings: ratings, users: dataset.users, movies: dataset.movies)
        case .mf(let c):
            return try MatrixFactorizationSGD(configuration: c).fit(
                ratings: ratings, users: dataset.users, movies: dataset.movies, progress: progress)
        case .als(let c), .ials(let c):
            // ALS logs each iteration (loss, RMSE, ETA) itself.
            return try AlternatingLeastSquares(configuration: c).fit(
                ratings: ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
        case .neural(let c):
            return try NeuralEmbedder(configuration: c).fit(
                ratings: ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres, progress: progress)
        case .mlp(let c):
            return try RatingMLP(configuration: c).fit(
                ratings: ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres, progress: progress)
        case .ease(let c):
            return try EASE(configuration: c).fit(ratings: ratings, users: dataset.users, movies: dataset.movies, progress: progress)
        case .blend(let c):
            return try EASEBlend(configuration: c).fit(ratings: ratings, dataset: dataset, progress: progress)
        }
    }

    /// Fits on `ratings` again after a fit on a part of them (`validated`, e.g. the 90% of a
    /// validation split). ALS continues from the validated movie side for a fifth of its
    /// iterations (at least 2): every user is solved again on all their ratings first, and at
    /// 32M ratings this costs a fifth of a cold fit. The neural embedder keeps its network and
    /// embeds every user again from all their ratings, as the live path does: training it
    /// again on all the ratings gained nothing on ML-100K and ML-latest-small (see
    /// ``NeuralEmbedder/Configuration``) for the cost of a second fit. The other models fit
    /// from scratch.
    package func refit(
        _ ratings: RatingTriples, of dataset: Dataset, from validated: FactorModel, progress: ProgressReporter = .silent
    ) throws -> FactorModel {
        let alternating: AlternatingLeastSquares.Configuration
        switch self {
        case .als(let c), .ials(let c): alternating = c
        case .neural where validated.kind == .neural && validated.movies.count == dataset.movies.count:
            return try NeuralEmbedder.reembeddingUsers(of: validated, ratings: ratings, users: dataset.users)
        default: return try fit(ratings, of: dataset, progress: progress)
        }
        let c = alternating
        guard validated.kind == kind, validated.k == c.k, validated.movies.count == dataset.movies.count else {
            return try fit(ratings, of: dataset, progress: progress)
        }
        return try AlternatingLeastSquares(configuration: c).fit(
            ratings: ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres,
            startingFrom: validated, iterations: c.warmIterations)
    }
}
