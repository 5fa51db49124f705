/// A trained model in the one shape every trainer produces and every consumer reads:
/// prediction `mu + b_u + b_i + p_u . q_i`, clipped to the rating scale.
///
/// The baseline is the `k == 0` case; MF-SGD and ALS fill the factors; ALS with genres also
/// fills `genreFactors`; the neural embedder fills the factors (its scores rank, they are not
/// ratings) and `encoder`; the rating MLP fills the factors with its embeddings and scores
/// through `ratingHead`. Publishing, evaluation, fold-in, recommend and similar all work on
/// this type, whichever trainer made it.
package struct FactorModel: Sendable {
    /// Which trainer made it.
    package var kind: ModelKind
    /// Number of latent dimensions (0 for the baseline).
    package var k: Int
    package var globalMean: Float
    /// By dense user index.
    package var userBias: [Float]
    /// By dense movie index.
    package var movieBias: [Float]
    /// Row-major `users.count x k`.
    package var userFactors: [Float]
    /// Row-major `movies.count x k`.
    package var movieFactors: [Float]
    /// Row-major `genreNames.count x k`; empty unless the model learned genre vectors.
    package var genreFactors: [Float]
    package var users: IDIndex
    package var movies: IDIndex
    package var genreNames: [String]
    package var ratingScale: ClosedRange<Float>
    /// Hyper-parameters as trained, for run metadata and the saved file.
    package var parameters: [String: String]
    /// The neural embedder's input layers (nil for other kinds): embeds a new user from their
    /// liked movies into this model's user-factor space.
    package var encoder: NeuralEncoder?
    /// The rating MLP's layers (nil for other kinds): when present, a prediction is the head's
    /// output on the user's and movie's factors, not `mu + b_u + b_i + p_u . q_i`.
    package var ratingHead: RatingHead?

    package init(
        kind: ModelKind, k: Int, globalMean: Float,
        userBias: [Float], movieBias: [Float],
        userFactors: [Float], movieFactors: [Float], genreFactors: [Float] = [],
        users: IDIndex, movies: IDIndex, genreNames: [String] = [],
        ratingScale: ClosedRange<Float> = 0.5...5.0,
        parameters: [String: String] = [:], encoder: NeuralEncoder? = nil, ratingHead: RatingHead? = nil
    ) {
        self.kind = kind
        self.k = k
        self.globalMean = globalMean
        self.userBias = userBias
        self.movieBias = movieBias
        self.userFactors = userFactors
        self.movieFactors = movieFactors
        self.genreFactors = genreFactors
        self.users = users
        self.movies = movies
        self.genreNames = genreNames
        self.ratingScale = ratingScale
        self.parameters = parameters
        self.encoder = encoder
        self.ratingHead = ratingHead
    }

    /// Prediction for dense indices, clipped to the rating scale.
    @inlinable
    package func predict(user u: Int, movie m: Int) -> Float {
        if let ratingHead { return min(max(headScore(ratingHead, user: u, movie: m), ratingScale.lowerBound), ratingScale.upperBound) }
        var score = globalMean + userBias[u] + movieBias[m]
        if k > 0 {
            userFactors.withUnsafeBufferPointer { p in
                movieFactors.withUnsafeBufferPointer { q in
                    let pu = u * k, qm = m * k
                    for f in 0..<k { score += p[pu + f] * q[qm + f] }
                }
            }
        }
        return min(max(score, ratingScale.lowerBound), ratingScale.upperBound)
    }

    /// The head's unclipped output for dense indices.
    package func headScore(_ head: RatingHead, user u: Int, movie m: Int) -> Float {
        userFactors.withUnsafeBufferPointer { p in
            movieFactors.withUnsafeBufferPointer { q in
                guard let pb = p.baseAddress, let qb = q.baseAddress else { return .nan }
                return head.score(user: pb + u * k, movie: qb + m * k)
            }
        }
    }
}
