import COpenBLAS
import Foundation

/// The state of one ALS run with biases and genres (seed 001, Algorithm 2), exposed step by
/// step so callers (and tests) can run single half-steps and watch the objective.
///
/// Objective minimised (seed 001 §5.1 divided through by the data weight, so the seed's
/// `tau'`/`gamma'` are this type's `lambda`/`gamma`):
///
///     1/2 sum_(u,i) (r_ui - mu - b_u - b_i - p_u . q_i)^2
///   + 1/2 sum_u lambda_u |p_u|^2
///   + 1/2 sum_(i rated) lambda_i |q_i - pi_i|^2          pi_i = (1/sqrt|F_i|) sum_(g in F_i) f_g
///   + gamma/2 (sum_u b_u^2 + sum_i b_i^2)
///   + tau/2 sum_g |f_g|^2                                 (only with genres)
///   + w/2 sum_(unrated pairs) (r_miss - mu - b_u - b_i - p_u . q_i)^2   (missing-data term)
///
/// The last term (Steck 2010; `w = missingWeight`, `r_miss = missingRating`, over pairs of a
/// user and a movie that both have ratings) is off with `w = 0`; its sums over all pairs are
/// computed through Gram matrices, so a half-step costs the same as without it.
/// with `lambda_x = lambda * n_x^alpha` (`alpha = 0` is the seed's constant regularisation,
/// `alpha = 1` is ALS-WR's count-weighted one) and `pi_i = 0` without genres. `mu` is the
/// training mean and stays fixed. Each half-step is an exact block minimisation, so the
/// objective never increases. Movies without training ratings are outside the objective
/// and take their genre prior as vector (cold start).
///
/// With the ranking objective (``AlternatingLeastSquares/Configuration/Objective/ranking``,
/// implicit-feedback ALS after Hu, Koren and Volinsky 2008 and Rendle et al. 2021) the
/// ratings' values are confidences `c` (see ``AlternatingLeastSquares/Configuration/rankingPairs(_:)``),
/// `mu` and the biases are 0, and the objective is
///
///     1/2 sum_(rated u,i) c_ui (1 - p_u . q_i)^2 + alpha_0/2 sum_(all u,i) (p_u . q_i)^2
///   + the same vector, genre-prior and genre penalties,
///
/// with `lambda_x = lambda * (n_x + alpha_0 * N)^alpha`, `N` the rated rows of the other side
/// (Rendle et al.'s frequency-scaled regularisation). "All" pairs are those of a rated user
/// and a rated movie, summed as `p_u^T (sum_i q_i q_i^T) p_u` through the Gram matrix.
package struct ALSTrainer: Sendable {
    package let configuration: AlternatingLeastSquares.Configuration
    package let ratings: SparseRatings
    package let genres: GenreIncidence
    package let globalMean: Float
    package private(set) var userBias: [Float]
    package private(set) var movieBias: [Float]
    /// Row-major `userCount x k`.
    package private(set) var userFactors: [Float]
    /// Row-major `movieCount x k`.
    package private(set) var movieFactors: [Float]
    /// Row-major `genreCount x k` (zeros without genres).
    package private(set) var genreFactors: [Float]
    /// Genre priors of the movies, row-major `movieCount x k`.
    package private(set) var moviePriors: [Float]
    /// Sum of squared training residuals after the last movie half-step.
    package private(set) var lastSquaredError: Double?
    /// With the missing-data term: sum over rated pairs of the squared difference to the
    /// missing rating, after the last movie half-step.
    private var lastMissingObservedError: Double?

    /// The users' rows (their ratings by movie) and the movies' rows (by user), each with its
    /// chunking for the half-steps.
    private let userRows: RowSide
    private let movieRows: RowSide
    /// Movies of each genre (CSR), for the genre update.
    private let genreOffsets: [Int]
    /// Users and movies with at least one training rating (the ranking objective's `N`).
    private var ratedUsers: Int { userRows.rated.count }
    private var ratedMovies: Int { movieRows.rated.count }
    private let genreMovies: [Int32]

    /// Sets up the initial state: biases zero, user vectors zero, movie vectors small
    /// Gaussian noise drawn from `configuration.seed`, genre vectors zero.
    package init(configuration: AlternatingLeastSquares.Configuration, ratings: SparseRatings, genres: GenreIncidence) throws {
        try configuration.validate()
        guard ratings.count > 0 else { throw ModelError.emptyData("no training ratings") }
        self.configuration = configuration
        self.ratings = ratings
        var genres = genres
        genres.extend(toMovieCount: ratings.movieCount)
        self.genres = genres
        var sum = 0.0
        for r in ratings.userRatings {
            guard r.isFinite else { throw ModelError.emptyData("a training rating is NaN or infinite") }
            sum += Double(r)
        }
        globalMean = configuration.objective == .ranking ? 0 : Float(sum / Double(ratings.count))
        let k = configuration.k
        userBias = [Float](repeating: 0, count: ratings.userCount)
        movieBias = [Float](repeating: 0, count: ratings.movieCount)
        userFactors = [Float](repeating: 0, count: ratings.userCount * k)
        var rng = SplitMix64(seed: configuration.seed)
        var movies = [Float](repeating: 0, count: ratings.movieCount * k)
        for i in movies.indices { movies[i] = Float(rng.nextNormal()) * configuration.initialScale }
        movieFactors = movies
        genreFactors = [Float](repeating: 0, count: genres.genreCount * k)
        moviePriors = [Float](repeating: 0, count: ratings.movieCount * k)

        userRows = RowSide(offsets: ratings.userOffsets, columns: ratings.userMovies, values: ratings.userRatings, k: k)
        movieRows = RowSide(offsets: ratings.movieOffsets, columns: ratings.movieUsers, values: ratings.movieRatings, k: k)

        var counts = [Int](repeating: 0, count: genres.genreCount + 1)
        for g in genres.genres { counts[Int(g) + 1] += 1 }
        for g in 0..<genres.genreCount { counts[g + 1] += counts[g] }
        var next = counts
        var members = [Int32](repeating: 0, count: genres.genres.count)
        for m in 0..<genres.movieCount {
            for g in genres.genres(ofMovie: m) {
                members[next[Int(g)]] = Int32(m)
                next[Int(g)] += 1
            }
        }
        genreOffsets = counts
        genreMovies = members
    }

    /// Starts from a model trained on (a subset of) the same rows, e.g. the validation fit,
    /// instead of noise: its movie biases, vectors and genre vectors. The next iteration's
    /// user step then solves every user against them, so a few iterations reach what a cold
    /// fit reaches in many. Throws when the model's shape differs.
    package mutating func warmStart(from model: FactorModel) throws {
        guard model.k == configuration.k, model.movieBias.count == movieBias.count,
              model.movieFactors.count == movieFactors.count else {
            throw ModelError.invalidParameter(
                name: "warm start", value: "k \(model.k), \(model.movieBias.count) movies",
                requirement: "k \(configuration.k) and \(movieBias.count) movies, like this trainer")
        }
        movieBias = model.movieBias
        movieFactors = model.movieFactors
        if model.genreFactors.count == genreFactors.count {
            genreFactors = model.genreFactors
            recomputePriors()
        }
    }

    private var halfStep: ALSHalfStep {
        ALSHalfStep(
            k: configuration.k, globalMean: globalMean, lambda: configuration.lambda,
            alpha: configuration.regularizationExponent, gamma: configuration.gamma,
            workers: configuration.threads, ranking: ranking, conjugateGradientSteps: configuration.conjugateGradientSteps)
    }

    private var ranking: Bool { configuration.objective == .ranking }

    /// Whether half-steps need the Gram sums of the fixed side: Steck's missing-data term, or
    /// the ranking objective's all-pairs term.
    private var usesMissingData: Bool { ranking || configuration.missingWeight > 0 }

    /// Weight of the all-pairs term: `alpha_0` (ranking) or the missing-data weight.
    private var allPairsWeight: Float { ranking ? configuration.unobservedWeight : configuration.missingWeight }

    /// Sums over the `rated` rows of one side (the side held fixed in a half-step).
    private func missingSums(factors: [Float], bias: [Float], rated: [Int]) -> ALSHalfStep.MissingSums {
        let k = configuration.k
        var gram = [Float](repeating: 0, count: k * k)
        var vectors = [Double](repeating: 0, count: k)
        var weighted = [Double](repeating: 0, count: k)
        var targets = 0.0
        // Rows without ratings are outside the objective: the Gram matrix is of the rated rows
        // only, packed when some are missing (27% of ML-latest-small's movies have no positive
        // in a 90% training split for the ranking objective).
        let packed = rated.count == bias.count ? factors : rated.flatMap { factors[($0 * k) ..< ($0 * k + k)] }
        if k > 0, !rated.isEmpty {
            packed.withUnsafeBufferPointer { x in
                gram.withUnsafeMutableBufferPointer { c in
                    BLAS.gramUpper(vectors: x.nonNullBase, count: rated.count, dimension: k, result: c.nonNullBase)
                }
            }
            // The whole matrix, for the conjugate-gradient blocks' `sgemm`.
            for column in 0..<k { for row in 0..<column { gram[row * k + column] = gram[column * k + row] } }
        }
        let base = ranking ? 0 : Double(configuration.missingRating) - Double(globalMean)
        for r in rated {
            let t = base - Double(bias[r])
            targets += t
            for d in 0..<k {
                let y = Double(factors[r * k + d])
                vectors[d] += y
                weighted[d] += t * y
            }
        }
        return ALSHalfStep.MissingSums(
            weight: allPairsWeight, rating: ranking ? 0 : configuration.missingRating, gram: gram,
            vectors: vectors.map(Float.init), targets: Float(targets), weightedVectors: weighted.map(Float.init), count: rated.count)
    }

    private var usesGenres: Bool { configuration.useGenres && genres.genreCount > 0 && configuration.k > 0 }

    /// Regularisation weight of a row with `n` ratings whose other side has `others` rated
    /// rows (the ranking objective counts them, weighted by `alpha_0`, as in ``ALSHalfStep``).
    @inline(__always)
    private func weight(_ n: Int, others: Int) -> Double {
        let alpha = Double(configuration.regularizationExponent)
        let count = ranking ? Double(n) + Double(configuration.unobservedWeight) * Double(others) : Double(n)
        return Double(configuration.lambda) * (alpha == 0 ? 1 : pow(count, alpha))
    }

    /// Algorithm 1/2, first loop: every user's bias, then vector, with the movie side fixed.
    package mutating func updateUsers() throws {
        var step = halfStep
        if usesMissingData { step.missing = missingSums(factors: movieFactors, bias: movieBias, rated: movieRows.rated) }
        _ = try Self.solve(
            userRows, step: step, fixedFactors: movieFactors, fixedBias: movieBias, bias: &userBias, factors: &userFactors,
            prior: nil, measureLoss: false)
    }

    /// Algorithm 1/2, second loop: every movie's bias, then vector (drawn towards its genre
    /// prior when genres are used), with the user side fixed. Also measures the training
    /// squared error, which the genre step does not change.
    package mutating func updateMovies() throws {
        var step = halfStep
        if usesMissingData { step.missing = missingSums(factors: userFactors, bias: userBias, rated: userRows.rated) }
        let result = try Self.solve(
            movieRows, step: step, fixedFactors: userFactors, fixedBias: userBias, bias: &movieBias, factors: &movieFactors,
            prior: usesGenres ? moviePriors : nil, measureLoss: true)
        lastSquaredError = result.squaredError
        lastMissingObservedError = usesMissingData && !ranking ? result.missingSquaredError : nil
    }

    /// One side's CSR rows, their longest row, the rows with ratings, and how its half-step is
    /// cut into chunks.
    private struct RowSide {
        var offsets: [Int]
        var columns: [Int32]
        var values: [Float]
        var count: Int { offsets.count - 1 }
        var maxLength: Int
        /// The rows with at least one rating: the only ones inside the objective.
        var rated: [Int]
        var chunks: ParallelChunks

        /// Chunks balanced by each row's solve cost: a `k x k` factorisation plus its ratings' share.
        init(offsets: [Int], columns: [Int32], values: [Float], k: Int) {
            self.offsets = offsets
            self.columns = columns
            self.values = values
            let cube = Double(k * k * k) / 3 + 50
            let square = Double(k * k) / 2 + 1
            let rows = offsets.count - 1
            chunks = ParallelChunks(rowCount: rows) { cube + square * Double(offsets[$0 + 1] - offsets[$0]) }
            maxLength = (0..<rows).reduce(0) { max($0, offsets[$1 + 1] - offsets[$1]) }
            rated = (0..<rows).filter { offsets[$0 + 1] > offsets[$0] }
        }
    }

    /// Runs `step` over every row of `rows` with the other side (`fixedFactors`, `fixedBias`)
    /// held fixed, writing the rows' `bias` and `factors`.
    private static func solve(
        _ rows: RowSide, step: ALSHalfStep, fixedFactors: [Float], fixedBias: [Float],
        bias: inout [Float], factors: inout [Float], prior: [Float]?, measureLoss: Bool
    ) throws -> (squaredError: Double, missingSquaredError: Double) {
        try rows.offsets.withUnsafeBufferPointer { offsets in
            try rows.columns.withUnsafeBufferPointer { columns in
                try rows.values.withUnsafeBufferPointer { values in
                    try fixedFactors.withUnsafeBufferPointer { fixed in
                        try fixedBias.withUnsafeBufferPointer { fixedBias in
                            try (prior ?? []).withUnsafeBufferPointer { priorRows in
                                try bias.withUnsafeMutableBufferPointer { bias in
                                    try factors.withUnsafeMutableBufferPointer { factors in
                                        try step.run(
                                            rows: .init(offsets: offsets.nonNullBase, columns: columns.nonNullBase,
                                                        values: values.nonNullBase, count: rows.count, maxLength: rows.maxLength),
                                            fixedFactors: fixed.nonNullBase, fixedBias: fixedBias.nonNullBase,
                                            bias: bias.nonNullBase, factors: factors.nonNullBase,
                                            prior: prior == nil ? nil : priorRows.nonNullBase, chunks: rows.chunks,
                                            measureLoss: measureLoss)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Algorithm 2, third loop: each genre vector by the seed's closed form given the movie
    /// vectors and the other genres (Gauss-Seidel over genres):
    ///
    ///     f_g = sum_(i in g) l_i s_i (q_i - s_i sum_(h != g) f_h) / (sum_(i in g) l_i s_i^2 + tau)
    ///
    /// with `s_i = 1/sqrt|F_i|` and `l_i` the movie's regularisation weight (with
    /// `alpha = 0` and `tau = lambda` this is exactly seed 001's rule with its "+ 1").
    /// Then recomputes the movie priors and moves unrated movies onto their prior.
    /// Does nothing without genres.
    package mutating func updateGenres() {
        guard usesGenres else { return }
        let k = configuration.k
        // Each rated movie's `l_i s_i` and `s_i`, fixed during the step.
        var pulls = [Double](repeating: 0, count: ratings.movieCount)
        for m in 0..<ratings.movieCount {
            let n = ratings.movieOffsets[m + 1] - ratings.movieOffsets[m], count = genres.offsets[m + 1] - genres.offsets[m]
            guard n > 0, count > 0 else { continue }
            pulls[m] = weight(n, others: ratedUsers) / Double(count).squareRoot()
        }
        var numerator = [Double](repeating: 0, count: k), others = [Double](repeating: 0, count: k)
        for g in 0..<genres.genreCount {
            for d in 0..<k { numerator[d] = 0 }
            var denominator = Double(configuration.tau)
            for p in genreOffsets[g] ..< genreOffsets[g + 1] {
                let m = Int(genreMovies[p])
                let pull = pulls[m]
                guard pull > 0 else { continue }
                let first = genres.offsets[m], last = genres.offsets[m + 1]
                let s = 1 / Double(last - first).squareRoot()
                for d in 0..<k { others[d] = 0 }
                for h in genres.genres[first ..< last] where Int(h) != g {
                    let base = Int(h) * k
                    for d in 0..<k { others[d] += Double(genreFactors[base + d]) }
                }
                let q = m * k
                for d in 0..<k { numerator[d] += pull * (Double(movieFactors[q + d]) - s * others[d]) }
                denominator += pull * s
            }
            for d in 0..<k { genreFactors[g * k + d] = denominator > 0 ? Float(numerator[d] / denominator) : 0 }
        }
        recomputePriors()
        for m in 0..<ratings.movieCount where ratings.movieOffsets[m + 1] == ratings.movieOffsets[m] {
            for d in 0..<k { movieFactors[m * k + d] = moviePriors[m * k + d] }
            movieBias[m] = 0
        }
    }

    private mutating func recomputePriors() {
        let k = configuration.k
        genreFactors.withUnsafeBufferPointer { factors in
            moviePriors.withUnsafeMutableBufferPointer { priors in
                guard let f = factors.baseAddress, let prior = priors.baseAddress else { return }
                for m in 0..<genres.movieCount {
                    let first = genres.offsets[m], last = genres.offsets[m + 1], row = prior + m * k
                    row.update(repeating: 0, count: k)
                    guard last > first else { continue }
                    let s = 1 / Float(last - first).squareRoot()
                    for p in first ..< last { VectorKernels.axpy(s, f + Int(genres.genres[p]) * k, into: row, count: k) }
                }
            }
        }
    }

    /// One full iteration (Algorithm 2): users, movies, genres.
    package mutating func iterate() throws {
        try updateUsers()
        try updateMovies()
        updateGenres()
    }

    /// The objective above, computed from scratch (a full pass over the ratings).
    package func objective() -> Double {
        let (observed, observedMissing) = squaredErrors()
        return regularizationTerms() + 0.5 * observed + missingTerm(observedMissing: observedMissing)
    }

    /// `w/2 * sum over unrated (rated user, rated movie) pairs of (r_m - prediction)^2`:
    /// all pairs in closed form through sums over each side, minus the rated pairs. The
    /// quadratic part `sum_(u,i) (p_u . q_i)^2` is `<P^T P, Q^T Q>`, two Gram matrices.
    private func missingTerm(observedMissing: Double) -> Double {
        guard usesMissingData else { return 0 }
        let k = configuration.k
        let movies = movieRows.rated, users = userRows.rated
        var q1 = [Double](repeating: 0, count: k), qb = [Double](repeating: 0, count: k)
        var b1 = 0.0, b2 = 0.0
        for m in movies {
            let b = Double(movieBias[m])
            (b1, b2) = (b1 + b, b2 + b * b)
            for d in 0..<k {
                let q = Double(movieFactors[m * k + d])
                q1[d] += q
                qb[d] += b * q
            }
        }
        let base = ranking ? 0 : Double(configuration.missingRating) - Double(globalMean)
        var full = 0.0
        var pa = [Double](repeating: 0, count: k), p1 = [Double](repeating: 0, count: k)
        for u in users {
            let a = base - Double(userBias[u])
            full += Double(movies.count) * a * a - 2 * a * b1 + b2
            for d in 0..<k {
                let p = Double(userFactors[u * k + d])
                pa[d] += a * p
                p1[d] += p
            }
        }
        for d in 0..<k { full -= 2 * (pa[d] * q1[d] - p1[d] * qb[d]) }
        let userGram = Self.doubleGram(userFactors, rows: users, k: k)
        let movieGram = Self.doubleGram(movieFactors, rows: movies, k: k)
        for column in 0..<k {
            for row in 0...column {
                let product = userGram[column * k + row] * movieGram[column * k + row]
                full += row == column ? product : 2 * product
            }
        }
        return 0.5 * Double(allPairsWeight) * (full - observedMissing)
    }

    /// `sum_r x_r x_r^T` over `rows` of the row-major `factors`, in double precision (upper
    /// triangle, column-major), converting a thousand rows at a time.
    private static func doubleGram(_ factors: [Float], rows: [Int], k: Int) -> [Double] {
        var gram = [Double](repeating: 0, count: k * k)
        let chunk = 1024
        var buffer = [Double](repeating: 0, count: chunk * k)
        for start in stride(from: 0, to: rows.count, by: chunk) {
            let part = rows[start ..< min(start + chunk, rows.count)]
            for (i, r) in part.enumerated() {
                for d in 0..<k { buffer[i * k + d] = Double(factors[r * k + d]) }
            }
            buffer.withUnsafeBufferPointer { x in
                gram.withUnsafeMutableBufferPointer { c in
                    guard let x = x.baseAddress, let c = c.baseAddress, k > 0 else { return }
                    // Row-major rows are column-major columns: C += X^T X is syrk NoTrans.
                    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, Int32(k), Int32(part.count), 1, x, Int32(k), 1, c, Int32(k))
                }
            }
        }
        return gram
    }

    /// Training RMSE of the current state (a full pass over the ratings).
    package func trainingRMSE() -> Double {
        (squaredErrors().observed / Double(ratings.count)).squareRoot()
    }

    /// Everything in the objective except the data term.
    func regularizationTerms() -> Double {
        let k = configuration.k
        var total = 0.0
        let gamma = Double(configuration.gamma)
        for b in userBias { total += 0.5 * gamma * Double(b) * Double(b) }
        for m in 0..<ratings.movieCount where ratings.movieOffsets[m + 1] > ratings.movieOffsets[m] {
            total += 0.5 * gamma * Double(movieBias[m]) * Double(movieBias[m])
        }
        guard k > 0 else { return total }
        for u in 0..<ratings.userCount {
            let n = ratings.userOffsets[u + 1] - ratings.userOffsets[u]
            guard n > 0 else { continue }
            var norm = 0.0
            for d in 0..<k { let x = Double(userFactors[u * k + d]); norm += x * x }
            total += 0.5 * weight(n, others: ratedMovies) * norm
        }
        let genresOn = usesGenres
        for m in 0..<ratings.movieCount {
            let n = ratings.movieOffsets[m + 1] - ratings.movieOffsets[m]
            guard n > 0 else { continue }
            var norm = 0.0
            for d in 0..<k {
                let x = Double(movieFactors[m * k + d]) - (genresOn ? Double(moviePriors[m * k + d]) : 0)
                norm += x * x
            }
            total += 0.5 * weight(n, others: ratedUsers) * norm
        }
        if genresOn {
            var norm = 0.0
            for f in genreFactors { norm += Double(f) * Double(f) }
            total += 0.5 * Double(configuration.tau) * norm
        }
        return total
    }

    /// The objective using the squared error measured by the last movie half-step (cheap:
    /// no pass over the ratings). Valid right after ``updateMovies()`` or ``updateGenres()``.
    func objectiveAfterMovieStep() -> Double? {
        guard let sse = lastSquaredError else { return nil }
        return regularizationTerms() + 0.5 * sse + missingTerm(observedMissing: lastMissingObservedError ?? 0)
    }

    /// Squared error of the rated pairs against their ratings, and against the missing rating
    /// (ranking: confidence-weighted squared error against 1, and 0).
    private func squaredErrors() -> (observed: Double, observedMissing: Double) {
        let k = configuration.k
        let missingRating = configuration.missingRating
        var total = 0.0, totalMissing = 0.0
        for u in 0..<ratings.userCount {
            for p in ratings.userRange(u) {
                let m = Int(ratings.userMovies[p])
                var prediction = globalMean + userBias[u] + movieBias[m]
                for d in 0..<k { prediction += userFactors[u * k + d] * movieFactors[m * k + d] }
                if ranking {
                    total += Double(ratings.userRatings[p]) * Double(1 - prediction) * Double(1 - prediction)
                    continue
                }
                let e = Double(ratings.userRatings[p] - prediction)
                total += e * e
                let em = Double(missingRating - prediction)
                totalMissing += em * em
            }
        }
        return (total, totalMissing)
    }

}

/// Stand-ins for the base address of an empty buffer (for example factors when k == 0):
/// never dereferenced, because the code reading them loops over zero elements.
nonisolated(unsafe) private let placeholderFloats = UnsafeMutablePointer<Float>.allocate(capacity: 1)
nonisolated(unsafe) private let placeholderIndices = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
nonisolated(unsafe) private let placeholderOffsets = UnsafeMutablePointer<Int>.allocate(capacity: 1)

extension UnsafeBufferPointer where Element == Float {
    var nonNullBase: UnsafePointer<Float> { baseAddress ?? UnsafePointer(placeholderFloats) }
}
extension UnsafeBufferPointer where Element == Int32 {
    var nonNullBase: UnsafePointer<Int32> { baseAddress ?? UnsafePointer(placeholderIndices) }
}
extension UnsafeBufferPointer where Element == Int {
    var nonNullBase: UnsafePointer<Int> { baseAddress ?? UnsafePointer(placeholderOffsets) }
}
extension UnsafeMutableBufferPointer where Element == Float {
    var nonNullBase: UnsafeMutablePointer<Float> { baseAddress ?? placeholderFloats }
}
