/// The "most popular" recommender: every user gets the movies with the most training ratings
/// that they have not rated. It has no vectors and predicts no ratings; it is the reference
/// any list must beat (Cremonesi, Koren and Turrin, "Performance of recommender algorithms
/// on top-N recommendation tasks", 2010), and a model kind of its own so it can be published.
///
/// As a ``FactorModel`` it is the `k == 0` case whose movie bias is the movie's rating count
/// (and whose global mean and user biases are zero), so its scores are the counts and every
/// consumer of factor models (top-N, ranking evaluation, publishing) handles it unchanged.
package struct Popularity: Sendable {
    package init() {}

    /// Counts the training ratings of every movie in `movies` (catalogue-only movies score 0).
    package func fit(ratings: RatingTriples, users: IDIndex, movies: IDIndex) throws -> FactorModel {
        try TrainingInput.validate(ratings, users: users, movies: movies)
        var counts = [Float](repeating: 0, count: movies.count)
        for m in ratings.movies { counts[Int(m)] += 1 }
        return FactorModel(
            kind: .popularity, k: 0, globalMean: 0, userBias: [Float](repeating: 0, count: users.count),
            movieBias: counts, userFactors: [], movieFactors: [], users: users, movies: movies)
    }
}
