import Foundation

/// EASE, the item-item model of Steck ("Embarrassingly shallow autoencoders for sparse data",
/// 2019): with `X` the binary users x movies matrix, the weights are the closed form
///
///     P = (X^T X + lambda I)^-1,   B = -P / diag(P) (column-wise),   diag(B) = 0,
///
/// and a user's scores are `x B`. It ranks; it predicts no ratings and has no vectors to
/// publish. Its matrices are movies x movies, so it fits only catalogues up to
/// ``Configuration/maxMovies``.
///
/// As a ``FactorModel`` it is the `k == movies` case: a user's factors are their binary row
/// `x` and the movie factors are `B^T` (movie `m`'s row is column `m` of `B`), so `x . q_m`
/// is the EASE score and the blocked `sgemm` top-N, ranking evaluation, `recommend` and the
/// live fold-in (a new user's row is their indicator vector) work unchanged. Measured at
/// ML-1M size (6040 users x 3706 movies, 825k ratings, numpy/scipy on this machine while it
/// was compiling): a dense `X B` by `sgemm` on 2 threads took 2.6 s, a sparse gather-sum
/// (scipy CSR times dense, 1 thread) 1.1 s. The dense form is kept anyway because every
/// consumer of factor models then works as it is; its price is the dense users x movies user
/// side (89 MB at ML-1M size), and a sparse scorer is the next step for large user counts.
package struct EASE: Sendable {
    package var configuration: Configuration

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Fits on `ratings` (indices into `users` and `movies`); every movie of the catalogue
    /// gets a row and column, so catalogue-only movies score 0 and list last.
    ///
    /// Throws ``ModelError/catalogueTooLarge(model:movies:limit:)`` before allocating anything
    /// when `movies` holds more than ``Configuration/maxMovies``.
    package func fit(ratings: RatingTriples, users: IDIndex, movies: IDIndex, progress: ProgressReporter = .silent) throws -> FactorModel {
        try configuration.validate()
        try Self.checkCatalogue(movies: movies.count, limit: configuration.maxMovies)
        try TrainingInput.validate(ratings, users: users, movies: movies)
        let n = movies.count
        let rows = indicatorRows(ratings, users: users.count, movies: n)
        var weights = [Float](repeating: 0, count: n * n)
        let lambda = configuration.lambda
        try weights.withUnsafeMutableBufferPointer { w in
            guard let base = w.baseAddress else { return }
            progress.step("ease", ["phase": "gram", "movies": "\(n)", "users": "\(users.count)"])
            EASEGram.accumulate(rows: rows, userCount: users.count, movieCount: n, into: base, threads: configuration.threads)
            for m in 0..<n { base[m * n + m] += lambda }
            progress.step("ease", ["phase": "inverse", "lambda": MetricText.fixed(Double(lambda))])
            do {
                try BLAS.withThreadCount(configuration.threads) { () throws(LinearAlgebraError) in
                    try Cholesky.invertInPlace(order: n, matrix: base)
                }
            } catch {
                throw ModelError.numerical("EASE: inverting the \(n)x\(n) Gram matrix failed: \(error)")
            }
            EASEGram.weightsFromInverse(base, order: n, threads: configuration.threads)
        }
        return FactorModel(
            kind: .ease, k: n, globalMean: 0, userBias: [Float](repeating: 0, count: users.count),
            movieBias: [Float](repeating: 0, count: n), userFactors: rows, movieFactors: weights,
            users: users, movies: movies, parameters: configuration.parameters)
    }

    /// Throws ``ModelError/catalogueTooLarge(model:movies:limit:)`` when `movies > limit`:
    /// what the nightly cycle checks to skip EASE before it starts a run.
    package static func checkCatalogue(movies: Int, limit: Int) throws(ModelError) {
        guard movies <= limit else { throw .catalogueTooLarge(model: ModelKind.ease.rawValue, movies: movies, limit: limit) }
    }

    /// Row-major users x movies, 1 where the user rated the movie at or above the threshold.
    private func indicatorRows(_ ratings: RatingTriples, users: Int, movies: Int) -> [Float] {
        var rows = [Float](repeating: 0, count: users * movies)
        let threshold = configuration.likedThreshold
        for i in 0..<ratings.count where ratings.ratings[i] >= threshold {
            rows[Int(ratings.users[i]) * movies + Int(ratings.movies[i])] = 1
        }
        return rows
    }
}

extension FactorModel {
    /// An EASE model's user vector for these ratings: 1 at each movie rated at or above the
    /// model's liked threshold, the same row training built (so a new user's "fold-in" is
    /// exact, and their scores are `x B`).
    func easeInput(movieIndices: [Int32], ratings: [Float]) throws -> [Float] {
        guard let text = parameters["likedThreshold"], let threshold = Float(text), threshold.isFinite else {
            throw ModelError.invalidParameter(
                name: "ease parameter likedThreshold", value: parameters["likedThreshold"] ?? "absent", requirement: "a finite number")
        }
        var row = [Float](repeating: 0, count: movies.count)
        for (m, rating) in zip(movieIndices, ratings) where rating >= threshold && m >= 0 && Int(m) < movies.count { row[Int(m)] = 1 }
        return row
    }
}

extension ModelConfiguration {
    /// Throws ``ModelError/catalogueTooLarge(model:movies:limit:)`` when this model cannot fit
    /// a catalogue of `movies` (EASE above its ``EASE/Configuration/maxMovies``); every other
    /// kind fits any size. The nightly cycle calls it before starting a run, to skip the model.
    package func checkCatalogue(movies: Int) throws(ModelError) {
        switch self {
        case .ease(let c): try EASE.checkCatalogue(movies: movies, limit: c.maxMovies)
        case .blend(let c): try EASE.checkCatalogue(movies: movies, limit: c.ease.maxMovies)
        default: return
        }
    }
}
