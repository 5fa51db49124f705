import Foundation

/// EASE and ials in one list: a movie's score for a user is EASE's plus ``Configuration/weight``
/// times ials', `x B_m + w p . q_m` (Steck's item-item closed form, "Embarrassingly shallow
/// autoencoders for sparse data", 2019, with implicit-feedback ALS after Hu, Koren and
/// Volinsky 2008 and Rendle et al. 2021). The two err differently: EASE weighs the movies a
/// user rated one by one, ials summarises the user in a few dimensions with the genre prior.
///
/// Measured (NDCG@10, `ops/bench/ranking`'s random 90/10 splits, ials at its defaults):
/// - weight 1: ML-100K 0.342 against EASE 0.322 and ials 0.324 alone; ML-latest-small 0.274
///   against 0.264 and 0.254. Weights 0.5 and 1.5 are within 1% of 1.
/// - EASE's input: every rated movie (as here) against those rated 3.5 or more (EASE's own
///   default): 0.342 / 0.331 on ML-100K, 0.274 / 0.266 on ML-latest-small.
/// - Held-out users (Liang et al.'s protocol, fold-in from ratings >= 4): about EASE's
///   NDCG@10 (ML-latest-small, 4 seeds: 0.271 / 0.263 / 0.259 / 0.256 against 0.266 / 0.261 /
///   0.259 / 0.253; ML-100K, 2 seeds: 0.317 / 0.339 against 0.322 / 0.321) and above it at
///   NDCG@100 on every one of those splits.
///
/// As a ``FactorModel`` it is EASE's form with ials' vectors appended: a user's factors are
/// EASE's input row (1 at each rated movie) followed by `w p_u`, a movie's are column `m` of `B`
/// followed by `q_m`, so `k = movies + ials' k` and every consumer of factor models (top-N,
/// evaluation, `recommend`) works unchanged. Lists only, for the catalogues EASE fits.
package struct EASEBlend: Sendable {
    package struct Configuration: Sendable, Equatable {
        package var ease = EASE.Configuration()
        package var ials = AlternatingLeastSquares.Configuration.rankingDefaults
        /// The weight of ials' scores against EASE's; both pull rated pairs towards 1, so
        /// their scales match without normalising.
        package var weight: Float = 1

        /// EASE takes every rated movie as input here (its own default keeps those rated 3.5 or
        /// more): see the measurements above.
        package init() {
            ease.likedThreshold = 0
        }

        package func validate() throws {
            try ease.validate()
            try ials.validate()
            try ParameterCheck.finite("weight", weight)
            guard weight >= 0 else {
                throw ModelError.invalidParameter(name: "weight", value: "\(weight)", requirement: "zero or positive")
            }
        }

        /// EASE's parameters as they are (fold-in reads `likedThreshold`), ials' with the prefix
        /// ``ialsPrefix``, and the weight.
        package var parameters: [String: String] {
            var out = ease.parameters
            for (key, value) in ials.parameters { out[EASEBlend.ialsPrefix + key] = value }
            out["weight"] = "\(weight)"
            return out
        }
    }

    /// The prefix of ials' parameters in a blend's saved parameters.
    static let ialsPrefix = "ials."

    package var configuration: Configuration

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Fits EASE and ials on `ratings` and joins them. Throws
    /// ``ModelError/catalogueTooLarge(model:movies:limit:)`` above EASE's catalogue limit.
    package func fit(ratings: RatingTriples, dataset: Dataset, progress: ProgressReporter = .silent) throws -> FactorModel {
        try configuration.validate()
        try EASE.checkCatalogue(movies: dataset.movies.count, limit: configuration.ease.maxMovies)
        let ease = try EASE(configuration: configuration.ease).fit(
            ratings: ratings, users: dataset.users, movies: dataset.movies, progress: progress)
        let ials = try AlternatingLeastSquares(configuration: configuration.ials).fit(
            ratings: ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
        return Self.join(ease: ease, ials: ials, weight: configuration.weight, parameters: configuration.parameters)
    }

    /// Rows `[a_r, w b_r]` (users) and `[a_r, b_r]` (movies) of two models of the same users and movies.
    static func join(ease: FactorModel, ials: FactorModel, weight: Float, parameters: [String: String]) -> FactorModel {
        let k = ease.k + ials.k
        func rows(_ a: [Float], _ b: [Float], count: Int, scale: Float) -> [Float] {
            var out = [Float](repeating: 0, count: count * k)
            for r in 0..<count {
                for d in 0..<ease.k { out[r * k + d] = a[r * ease.k + d] }
                for d in 0..<ials.k { out[r * k + ease.k + d] = scale * b[r * ials.k + d] }
            }
            return out
        }
        let users = ease.users.count, movies = ease.movies.count
        return FactorModel(
            kind: .blend, k: k, globalMean: 0, userBias: [Float](repeating: 0, count: users),
            movieBias: [Float](repeating: 0, count: movies),
            userFactors: rows(ease.userFactors, ials.userFactors, count: users, scale: weight),
            movieFactors: rows(ease.movieFactors, ials.movieFactors, count: movies, scale: 1),
            users: ease.users, movies: ease.movies, parameters: parameters)
    }
}

extension FactorModel {
    /// A blend's user vector for these ratings: EASE's indicator row, then `w` times ials'
    /// fold-in against the ials part of the movie vectors (see
    /// ``rankingFoldIn(movieIndices:ratings:regularization:ranking:sums:)``).
    func blendFoldIn(movieIndices: [Int32], ratings: [Float]) throws -> [Float] {
        let ials = try blendedIALS()
        let weight = try blendWeight()
        let tail = try ials.foldIn(movieIndices: movieIndices, ratings: ratings).vector
        return try easeInput(movieIndices: movieIndices, ratings: ratings) + tail.map { weight * $0 }
    }

    private func blendWeight() throws(ModelError) -> Float {
        guard let text = parameters["weight"], let weight = Float(text), weight.isFinite else {
            throw ModelError.invalidParameter(name: "blend parameter weight", value: parameters["weight"] ?? "absent", requirement: "a finite number")
        }
        return weight
    }

    /// The ials part of a blend as an ials model of its own (movie side and parameters only).
    private func blendedIALS() throws(ModelError) -> FactorModel {
        let movieCount = movies.count, tailK = k - movieCount
        guard tailK > 0 else {
            throw ModelError.invalidParameter(name: "blend k", value: "\(k)", requirement: "more than the \(movieCount) movies (EASE's part)")
        }
        var tail = [Float](repeating: 0, count: movieCount * tailK)
        for m in 0..<movieCount {
            for d in 0..<tailK { tail[m * tailK + d] = movieFactors[m * k + movieCount + d] }
        }
        var ialsParameters: [String: String] = [:]
        for (key, value) in parameters where key.hasPrefix(EASEBlend.ialsPrefix) {
            ialsParameters[String(key.dropFirst(EASEBlend.ialsPrefix.count))] = value
        }
        return FactorModel(
            kind: .ials, k: tailK, globalMean: 0, userBias: [], movieBias: [Float](repeating: 0, count: movieCount),
            userFactors: [], movieFactors: tail, users: IDIndex(), movies: movies, parameters: ialsParameters)
    }
}
