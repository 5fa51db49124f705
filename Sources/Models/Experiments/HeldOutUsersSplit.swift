/// The split of the strong-generalisation protocol (Liang, Krishnan, Hoffman and Jebara,
/// "Variational autoencoders for collaborative filtering", 2018): a seeded set of users with
/// enough positive ratings is taken out of training whole; each of their positives is either
/// folded in (shown to the model as the user's history) or kept for evaluation.
///
/// Differences from the paper's preprocessing, both because Latent's models learn from
/// ratings: training keeps every rating of the other users (not only their positives, and
/// users with few positives too), and a held-out user's positives count only for movies that
/// have a training rating (the paper keeps movies with a training positive). A held-out
/// user's ratings below the threshold take no part.
package struct HeldOutUsersSplit: Sendable {
    /// Every rating of the users not held out, in the dataset's indices: what models train on.
    package let train: RatingTriples
    /// The held-out users' positives that are folded in, with their ratings.
    package let foldIn: RatingTriples
    /// The held-out users' other positives: the relevant movies of their lists.
    package let evaluation: RatingTriples
    /// Held-out users evaluated (dense indices, ascending); each has at least one movie in
    /// `foldIn` and one in `evaluation`.
    package let users: [Int32]
    /// By dense movie index: whether the movie has a training rating (only those are listed).
    package let trainedMovies: [Bool]

    /// Splits `dataset.ratings` by `configuration` (its seed, threshold, minimum positives,
    /// share or count of held-out users and evaluation share).
    package init(_ dataset: Dataset, configuration c: HeldOutUsersExperiment.Configuration) throws {
        try c.validate()
        let ratings = dataset.ratings
        var positives = [[Int]](repeating: [], count: dataset.users.count)
        for p in 0..<ratings.count where ratings.ratings[p] >= c.positiveThreshold { positives[Int(ratings.users[p])].append(p) }
        var rng = SplitMix64(seed: c.seed)
        var eligible = positives.indices.filter { positives[$0].count >= c.minimumPositives }
        eligible.shuffle(using: &rng)
        let wanted = c.heldOutCount ?? max(1, Int((Double(eligible.count) * c.heldOutFraction).rounded()))
        guard wanted <= eligible.count, !eligible.isEmpty else {
            throw ModelError.emptyData(
                "\(wanted) held-out users wanted, but only \(eligible.count) users have \(c.minimumPositives) ratings >= \(c.positiveThreshold)")
        }
        let held = eligible[0..<wanted].sorted()
        var isHeld = [Bool](repeating: false, count: dataset.users.count)
        for u in held { isHeld[u] = true }
        train = ratings.subset((0..<ratings.count).filter { !isHeld[Int(ratings.users[$0])] })
        guard !train.isEmpty else { throw ModelError.emptyData("every rating belongs to a held-out user: nothing to train on") }
        var trained = [Bool](repeating: false, count: dataset.movies.count)
        for m in train.movies { trained[Int(m)] = true }
        trainedMovies = trained

        var foldInPositions: [Int] = [], evaluationPositions: [Int] = [], users: [Int32] = []
        for u in held {
            var mine = Self.distinctMovies(positives[u], ratings: ratings).filter { trained[Int(ratings.movies[$0])] }
            guard mine.count >= 2 else { continue }
            mine.shuffle(using: &rng)
            // The paper's int(0.2 n) evaluation movies, at least one.
            let evaluated = max(1, Int(Double(mine.count) * c.evaluationFraction))
            evaluationPositions += mine[0..<evaluated]
            foldInPositions += mine[evaluated...]
            users.append(Int32(u))
        }
        guard !users.isEmpty else {
            throw ModelError.emptyData("no held-out user has two positives among the movies rated in training")
        }
        foldIn = ratings.subset(foldInPositions)
        evaluation = ratings.subset(evaluationPositions)
        self.users = users
    }

    /// `positions` with one per movie (the last rating of a movie rated twice), in position order.
    private static func distinctMovies(_ positions: [Int], ratings: RatingTriples) -> [Int] {
        var last: [Int32: Int] = [:]
        for p in positions { last[ratings.movies[p]] = p }
        return last.values.sorted()
    }
}
