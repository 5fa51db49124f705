import Foundation

/// The regularisation a fold-in uses: the one the model was trained with, so a folded-in user
/// is what training would have produced for them.
package struct FoldInRegularization: Sendable, Equatable {
    /// Vector penalty `lambda * n^exponent` for a user with `n` ratings.
    package var lambda: Float
    package var exponent: Float
    /// Bias penalty `gamma * n^gammaExponent`.
    package var gamma: Float
    package var gammaExponent: Float
    /// Weight and value of the missing-data term (see
    /// ``AlternatingLeastSquares/Configuration/missingWeight``); weight 0 turns it off.
    package var missingWeight: Float
    package var missingRating: Float
    /// ALS with the ranking objective (kind "ials"): the user is solved as in its training, with
    /// no bias; nil for rating models.
    package var ranking: Ranking?

    /// The ranking objective's settings (see ``AlternatingLeastSquares/Configuration``):
    /// `alpha_0`, the confidence weight and the positive threshold.
    package struct Ranking: Sendable, Equatable {
        package var unobservedWeight: Float
        package var confidenceWeight: Float
        package var positiveThreshold: Float

        package init(unobservedWeight: Float, confidenceWeight: Float = 0, positiveThreshold: Float = 0) {
            self.unobservedWeight = unobservedWeight
            self.confidenceWeight = confidenceWeight
            self.positiveThreshold = positiveThreshold
        }
    }

    package init(
        lambda: Float, exponent: Float, gamma: Float, gammaExponent: Float = 0,
        missingWeight: Float = 0, missingRating: Float = 0, ranking: Ranking? = nil
    ) {
        self.ranking = ranking
        self.lambda = lambda
        self.exponent = exponent
        self.gamma = gamma
        self.gammaExponent = gammaExponent
        self.missingWeight = missingWeight
        self.missingRating = missingRating
    }

    /// The settings `model` was trained with, read from its saved parameters by its kind:
    /// - ALS: `lambda * n^regularizationExponent` and `gamma`, as in its alternating updates,
    ///   with its missing-data term (absent in models trained before the term existed: none);
    /// - ALS with the ranking objective: `lambda`, the exponent and its ``Ranking`` settings;
    /// - MF by SGD: the per-rating penalties `regularisation` and `biasRegularisation`, which
    ///   over a user's `n` ratings sum to `n` times each;
    /// - baseline: no vector, the user-bias penalty `userRegularisation`.
    ///
    /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` naming the parameter
    /// when one is missing or unreadable, and for the kinds that do not fold in by a regularised
    /// solve (popularity has no user side; the neural model embeds through its encoder).
    package init(model: FactorModel) throws(ModelError) {
        let saved = SavedParameters(kind: model.kind, values: model.parameters)
        switch model.kind {
        case .als:
            self.init(
                lambda: try saved.nonNegative("lambda"), exponent: try saved.nonNegative("regularizationExponent"),
                gamma: try saved.nonNegative("gamma"),
                missingWeight: try saved.nonNegative("missingWeight", absent: 0, below: 1),
                missingRating: try saved.finite("missingRating", absent: 0))
        case .ials:
            self.init(
                lambda: try saved.nonNegative("lambda"), exponent: try saved.nonNegative("regularizationExponent"), gamma: 0,
                ranking: Ranking(
                    unobservedWeight: try saved.nonNegative("unobservedWeight"), confidenceWeight: try saved.nonNegative("confidenceWeight"),
                    positiveThreshold: try saved.finite("positiveThreshold")))
        case .mf:
            self.init(
                lambda: try saved.nonNegative("regularisation"), exponent: 1,
                gamma: try saved.nonNegative("biasRegularisation"), gammaExponent: 1)
        case .baseline:
            self.init(lambda: 0, exponent: 0, gamma: try saved.nonNegative("userRegularisation"))
        case .popularity, .neural, .mlp, .ease, .blend:
            throw ModelError.invalidParameter(
                name: "model kind", value: model.kind.rawValue,
                requirement: "als, mf or baseline for a regularised fold-in (popularity has no user side, neural embeds through its encoder, mlp's user embedding goes through a network and has no regularised solve, ease and blend take the user's rated movies as they are)")
        }
    }
}

extension FactorModel {
    /// The rating at or above which training learned from a rating: the neural model's liked
    /// movies, ials' positives; nil when every rating counts. Throws, naming the parameter,
    /// when the saved setting is missing or unreadable.
    package func learnedThreshold() throws(ModelError) -> Float? {
        if let encoder { return encoder.likedThreshold }
        guard kind == .ials else { return nil }
        return try FoldInRegularization(model: self).ranking?.positiveThreshold
    }
}

extension FactorModel {
    /// Whether fold-in solves with the ``FoldInRegularization`` read from the model, and so can
    /// share one ``FoldInContext`` across users: not popularity (no user side), the neural
    /// model (its encoder embeds), EASE (the rated movies are the input) or a blend (its ials
    /// part solves on its own).
    package var foldsInWithRegularization: Bool { encoder == nil && ![.popularity, .ease, .blend].contains(kind) }
}

extension FoldInRegularization {
    /// The per-model sums fold-ins under these settings need (the missing-data term's or the
    /// ranking objective's Gram sums), nil when they need none.
    package func context(for model: FactorModel) -> FoldInContext? {
        missingWeight > 0 || ranking != nil ? FoldInContext(model: model, missingRating: missingRating) : nil
    }
}

/// A model's saved hyper-parameters read as typed values; every error names the kind and key.
private struct SavedParameters {
    let kind: ModelKind
    let values: [String: String]

    func nonNegative(_ key: String, absent: Float? = nil, below limit: Float = .infinity) throws(ModelError) -> Float {
        let value = try finite(key, absent: absent)
        guard value >= 0, value < limit else {
            throw ModelError.invalidParameter(
                name: "\(kind.rawValue) parameter \(key)", value: "\(value)",
                requirement: limit.isFinite ? "in [0, \(limit))" : "zero or positive")
        }
        return value
    }

    func finite(_ key: String, absent: Float? = nil) throws(ModelError) -> Float {
        guard let text = values[key] else {
            if let absent { return absent }
            throw ModelError.invalidParameter(
                name: "\(kind.rawValue) parameter \(key)", value: "missing",
                requirement: "saved with the model (retrain it to record its settings)")
        }
        guard let value = Float(text), value.isFinite else {
            throw ModelError.invalidParameter(name: "\(kind.rawValue) parameter \(key)", value: text, requirement: "a finite number")
        }
        return value
    }
}

/// Sums over all of a model's movies that fold-in needs for the missing-data term; computed
/// once per model (`O(movies * k^2)`), then every fold-in stays `O(n k^2 + k^3)`.
package struct FoldInContext: Sendable {
    /// `sum_m q_m q_m^T`, `k x k`.
    let gram: [Float]
    /// `sum_m q_m`.
    let vectors: [Float]
    /// `sum_m t_m` and `sum_m t_m q_m` with `t_m = missingRating - mu - b_m`.
    let targets: Float
    let weightedVectors: [Float]
    let count: Int
    let missingRating: Float

    /// All the model's movies take part (the model does not record which had training
    /// ratings; training used only those, so catalogue-only movies make a small difference).
    package init(model: FactorModel, missingRating: Float) {
        let k = model.k, movies = model.movies.count
        var gram = [Float](repeating: 0, count: k * k)
        if k > 0, movies > 0 {
            model.movieFactors.withUnsafeBufferPointer { q in
                gram.withUnsafeMutableBufferPointer { c in
                    guard let qb = q.baseAddress, let cb = c.baseAddress else { return }
                    BLAS.gramUpper(vectors: qb, count: movies, dimension: k, result: cb)
                }
            }
        }
        var vectors = [Double](repeating: 0, count: k), weighted = [Double](repeating: 0, count: k)
        var targets = 0.0
        let base = Double(missingRating) - Double(model.globalMean)
        for m in 0..<movies {
            let t = base - Double(model.movieBias[m])
            targets += t
            for d in 0..<k {
                let q = Double(model.movieFactors[m * k + d])
                vectors[d] += q
                weighted[d] += t * q
            }
        }
        self.gram = gram
        self.vectors = vectors.map(Float.init)
        self.targets = Float(targets)
        self.weightedVectors = weighted.map(Float.init)
        self.count = movies
        self.missingRating = missingRating
    }
}

extension FactorModel {
    /// A new or changed user's bias and vector from their ratings, with the movie side fixed
    /// (seed 000 §3.8, seed 001 §6): the regularised least-squares solution of
    ///
    ///     min_(b, p) sum_j (r_j - mu - b_(m_j) - b - p . q_(m_j))^2 + l |p|^2 + gamma b^2,
    ///     l = lambda * n^exponent,
    ///
    /// solved jointly for `(p, b)` with one `(k+1) x (k+1)` Cholesky factorisation. For an ALS
    /// model this is the fixed point of the training's alternating bias/vector updates, so a
    /// training user folded in from their training ratings gets back their trained vector.
    /// A movie rated twice counts with its last rating. No ratings: bias 0 and a zero vector.
    ///
    /// With a missing-data term in the model (``FoldInRegularization/missingWeight`` > 0) the
    /// unrated movies count as in training; pass a ``FoldInContext`` made once per model to
    /// keep each call fast (without one it is computed on the spot, `O(movies * k^2)`).
    ///
    /// A neural model (one with an ``encoder``) embeds the user instead: bias 0 and the
    /// encoder's output for the movies rated at or above its liked threshold.
    package func foldIn(
        ratings: [(movieID: Int64, rating: Float)], regularization: FoldInRegularization? = nil,
        context: FoldInContext? = nil
    ) throws -> (bias: Float, vector: [Float]) {
        var indices: [Int32] = []
        var values: [Float] = []
        indices.reserveCapacity(ratings.count)
        values.reserveCapacity(ratings.count)
        var seen: [Int32: Int] = [:]
        for (movieID, rating) in ratings {
            guard rating.isFinite else { throw ModelError.invalidRating(movieID: movieID, rating: rating) }
            guard let m = movies[movieID] else { throw ModelError.unknownMovie(movieID) }
            if let slot = seen[m] {
                values[slot] = rating
            } else {
                seen[m] = indices.count
                indices.append(m)
                values.append(rating)
            }
        }
        return try foldIn(movieIndices: indices, ratings: values, regularization: regularization, context: context)
    }

    /// ``foldIn(ratings:regularization:)`` on dense movie indices (no id lookup, no
    /// de-duplication): the form evaluation loops use.
    package func foldIn(
        movieIndices: [Int32], ratings: [Float], regularization: FoldInRegularization? = nil,
        context: FoldInContext? = nil
    ) throws -> (bias: Float, vector: [Float]) {
        guard movieIndices.count == ratings.count else {
            throw ModelError.invalidParameter(name: "ratings", value: "\(ratings.count) values for \(movieIndices.count) movies", requirement: "one rating per movie")
        }
        if let encoder {
            let liked = zip(movieIndices, ratings).filter { $0.1 >= encoder.likedThreshold }.map(\.0)
            return (0, encoder.embed(movies: liked))
        }
        guard ratingHead == nil else {
            throw ModelError.invalidParameter(
                name: "model kind", value: kind.rawValue,
                requirement: "a model without a rating head for fold-in (the rating MLP scores through its network: a solved vector would not fit it)")
        }
        if kind == .ease { return (0, try easeInput(movieIndices: movieIndices, ratings: ratings)) }
        if kind == .blend { return (0, try blendFoldIn(movieIndices: movieIndices, ratings: ratings)) }
        let reg = try regularization ?? FoldInRegularization(model: self)
        guard !ratings.isEmpty else { return (0, [Float](repeating: 0, count: k)) }
        if let ranking = reg.ranking {
            let sums = context.flatMap { $0.count == movies.count && $0.vectors.count == k ? $0 : nil }
                ?? FoldInContext(model: self, missingRating: reg.missingRating)
            return (0, try rankingFoldIn(movieIndices: movieIndices, ratings: ratings, regularization: reg, ranking: ranking, sums: sums))
        }
        var missing: FoldInContext?
        if reg.missingWeight > 0 {
            if let context, context.missingRating == reg.missingRating, context.count == movies.count, context.vectors.count == k {
                missing = context
            } else {
                missing = FoldInContext(model: self, missingRating: reg.missingRating)
            }
        }
        var (design, targets) = try foldInDesign(movieIndices: movieIndices, ratings: ratings, regularization: reg)
        return try solveFoldIn(design: &design, targets: &targets, regularization: reg, missing: missing)
    }

    /// The least-squares rows `[q_m, 1]` of the rated movies, gathered contiguously
    /// (`n x (k+1)`), and their targets `r - mu - b_m` (with the missing-data term a rated
    /// movie weighs `(1 - w) e + w (r - r_miss)`).
    private func foldInDesign(
        movieIndices: [Int32], ratings: [Float], regularization reg: FoldInRegularization
    ) throws -> (design: [Float], targets: [Float]) {
        let n = ratings.count, order = k + 1, w = reg.missingWeight
        var design = [Float](repeating: 1, count: n * order)
        var targets = [Float](repeating: 0, count: n)
        for j in 0..<n {
            let m = Int(movieIndices[j])
            guard m >= 0, m < movies.count else {
                throw ModelError.invalidParameter(name: "movieIndices", value: "\(m)", requirement: "in 0..<\(movies.count)")
            }
            guard ratings[j].isFinite else { throw ModelError.invalidRating(movieID: movies.ids[m], rating: ratings[j]) }
            targets[j] = ratings[j] - globalMean - movieBias[m]
            if w > 0 { targets[j] = (1 - w) * targets[j] + w * (ratings[j] - reg.missingRating) }
            for d in 0..<k { design[j * order + d] = movieFactors[m * k + d] }
        }
        return (design, targets)
    }

    /// Solves the regularised normal equations of the fold-in for `(p, b)` with one Cholesky
    /// factorisation; with a missing-data context every movie adds its weighted share.
    private func solveFoldIn(
        design: inout [Float], targets: inout [Float], regularization reg: FoldInRegularization, missing: FoldInContext?
    ) throws -> (bias: Float, vector: [Float]) {
        let n = targets.count, order = k + 1, w = reg.missingWeight
        var normal = [Float](repeating: 0, count: order * order)
        var rhs = [Float](repeating: 0, count: order)
        let l = Self.penalty(reg.lambda, exponent: reg.exponent, ratings: n)
        let biasPenalty = Self.penalty(reg.gamma, exponent: reg.gammaExponent, ratings: n)
        try Self.solveNormalEquations(design: design, targets: targets, normal: &normal, rhs: &rhs, what: "\(n) ratings") { xb, tb, ab, bb in
            var beta: Float = 0
            if let missing {
                // w * sum over all movies of [q; 1][q; 1]^T, upper triangle.
                for col in 0..<k { for row in 0...col { ab[col * order + row] = w * missing.gram[col * k + row] } }
                for row in 0..<k { ab[k * order + row] = w * missing.vectors[row] }
                ab[k * order + k] = w * Float(missing.count)
                beta = 1
            }
            BLAS.gramUpper(vectors: xb, count: n, dimension: order, alpha: 1 - w, beta: beta, result: ab)
            for d in 0..<k { ab[d * order + d] += l }
            // A bias penalty of 0 is fine unless there are no ratings (handled by the caller).
            ab[k * order + k] += biasPenalty
            BLAS.gemvTransposed(rows: n, columns: order, matrix: xb, vector: tb, result: bb)
            if let missing {
                for d in 0..<k { bb[d] += w * missing.weightedVectors[d] }
                bb[k] += w * missing.targets
            }
        }
        return (rhs[k], Array(rhs[0..<k]))
    }

    /// Fills the normal equations of a fold-in through `build(design, targets, normal, rhs)`
    /// (row-major design rows, their targets, the upper triangle of the normal matrix, the
    /// right-hand side), then solves them in place by Cholesky; a matrix that is not positive
    /// definite becomes ``ModelError/numerical(_:)`` naming `what` was folded in. Nothing runs
    /// when a buffer is empty.
    static func solveNormalEquations(
        design: [Float], targets: [Float], normal: inout [Float], rhs: inout [Float], what: String,
        _ build: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) throws {
        let order = rhs.count
        do {
            try design.withUnsafeBufferPointer { x in
                try targets.withUnsafeBufferPointer { t in
                    try normal.withUnsafeMutableBufferPointer { a in
                        try rhs.withUnsafeMutableBufferPointer { b in
                            guard let xb = x.baseAddress, let tb = t.baseAddress, let ab = a.baseAddress, let bb = b.baseAddress else { return }
                            build(xb, tb, ab, bb)
                            try Cholesky.solveInPlace(order: order, matrix: ab, rightHandSides: bb)
                        }
                    }
                }
            }
        } catch let error as LinearAlgebraError {
            throw ModelError.numerical("fold-in of \(what): \(error)")
        }
    }

    /// `weight * n^exponent`.
    private static func penalty(_ weight: Float, exponent: Float, ratings n: Int) -> Float {
        exponent == 0 ? weight : weight * Float(pow(Double(n), Double(exponent)))
    }

    /// Adds a user (or replaces an existing user's bias and vector).
    package mutating func setUser(id: Int64, bias: Float, vector: [Float]) throws {
        guard vector.count == k else {
            throw ModelError.invalidParameter(name: "vector", value: "\(vector.count) entries", requirement: "\(k) entries (the model's k)")
        }
        guard bias.isFinite, vector.allSatisfy(\.isFinite) else {
            throw ModelError.invalidParameter(name: "user \(id)", value: "non-finite bias or vector", requirement: "finite")
        }
        if let u = users[id] {
            let u = Int(u)
            userBias[u] = bias
            for d in 0..<k { userFactors[u * k + d] = vector[d] }
        } else {
            users.insert(id)
            userBias.append(bias)
            userFactors.append(contentsOf: vector)
        }
    }

    /// Folds a user in from their ratings and stores the result under `id` (adding or
    /// replacing); returns what was stored.
    @discardableResult
    package mutating func foldInUser(
        id: Int64, ratings: [(movieID: Int64, rating: Float)], regularization: FoldInRegularization? = nil
    ) throws -> (bias: Float, vector: [Float]) {
        let result = try foldIn(ratings: ratings, regularization: regularization)
        try setUser(id: id, bias: result.bias, vector: result.vector)
        return result
    }
}
