import Foundation
import Logging

/// The strong-generalisation experiment of Liang, Krishnan, Hoffman and Jebara,
/// "Variational autoencoders for collaborative filtering" (2018): how good the lists of users
/// that no model saw in training are, given part of their history. This is what the live path
/// does for a new user.
///
/// Ratings at or above 4 are positives. A seeded share of the users with at least 5 positives
/// is held out of training (``HeldOutUsersSplit``); each model trains on the other users. Every
/// held-out user is then folded in from 80% of their positives
/// (``FactorModel/foldIn(movieIndices:ratings:regularization:context:)``: the neural model's
/// encoder embeds the bag, ALS and MF solve for the user's vector, popularity needs nothing)
/// and gets a list of movies with training ratings, their fold-in movies left out; the other
/// 20% are the relevant movies. Recall@k is divided by `min(k, relevant)` as in the paper.
package enum HeldOutUsersExperiment {
    package struct Configuration: Sendable, Equatable {
        /// Ratings at or above this are positives.
        package var positiveThreshold: Float = 4
        /// Only users with this many positives can be held out.
        package var minimumPositives = 5
        /// Share of those users held out (at least one), unless ``heldOutCount`` is set.
        package var heldOutFraction = 0.1
        /// Exactly this many users held out.
        package var heldOutCount: Int?
        /// Share of a held-out user's positives kept for evaluation (`int(share * n)`, at
        /// least one); the rest is folded in.
        package var evaluationFraction = 0.2
        /// Seed of the held-out users and of their fold-in/evaluation split.
        package var seed: UInt64 = 98765
        /// The models compared, each trained on the same split.
        package var models: [ModelConfiguration] = [.neural(.init()), .als(.init()), .mf(.init()), .popularity]
        /// Threads for fold-in scoring.
        package var threads = ProcessInfo.processInfo.activeProcessorCount

        /// Every default; set the fields to change them.
        package init() {}

        package func validate() throws {
            try ParameterCheck.finite("positiveThreshold", positiveThreshold)
            try ParameterCheck.integer("minimumPositives", minimumPositives, atLeast: 2, note: "one to fold in, one to evaluate")
            try ParameterCheck.real("heldOutFraction", heldOutFraction, in: .open(0, 1))
            if let heldOutCount { try ParameterCheck.integer("heldOutCount", heldOutCount, atLeast: 1) }
            try ParameterCheck.real("evaluationFraction", evaluationFraction, in: .open(0, 1))
            try ParameterCheck.require(!models.isEmpty, "models", "[]", "at least one model")
            try ParameterCheck.integer("threads", threads, atLeast: 1)
            for model in models { try model.validate() }
        }
    }

    /// The cut-offs of the table: NDCG@10 (the random-split measure), the paper's Recall@20,
    /// Recall@50 and NDCG@100.
    package struct Metrics: Sendable, Equatable {
        package var ndcgAt10 = 0.0
        package var recallAt20 = 0.0
        package var recallAt50 = 0.0
        package var ndcgAt100 = 0.0

        /// The longest list the metrics read.
        static let depth = 100

        mutating func add(_ list: [Int64], relevant: Set<Int64>) {
            ndcgAt10 += ListMetrics.ndcg(list, relevant: relevant, k: 10)
            recallAt20 += ListMetrics.recall(list, relevant: relevant, k: 20)
            recallAt50 += ListMetrics.recall(list, relevant: relevant, k: 50)
            ndcgAt100 += ListMetrics.ndcg(list, relevant: relevant, k: 100)
        }

        func averaged(over users: Int) -> Metrics {
            let n = Double(max(users, 1))
            return Metrics(ndcgAt10: ndcgAt10 / n, recallAt20: recallAt20 / n, recallAt50: recallAt50 / n, ndcgAt100: ndcgAt100 / n)
        }
    }

    /// One model's result.
    package struct Row: Sendable, Equatable {
        package var model: ModelKind
        package var metrics: Metrics
        /// Held-out users evaluated.
        package var users: Int
        package var fitSeconds: Double
    }

    /// Trains every configured model on `split.train` (indices of `dataset`) and measures the
    /// held-out users' lists, in the order of ``Configuration/models``.
    package static func run(
        _ dataset: Dataset, split: HeldOutUsersSplit, configuration: Configuration, progress: ProgressReporter = .silent
    ) throws -> [Row] {
        try configuration.validate()
        let logger = Logger(label: "latent.experiment.held-out-users")
        return try configuration.models.map { model in
            let started = Date()
            let trained = try model.fit(split.train, of: dataset, progress: progress)
            let fitSeconds = Date().timeIntervalSince(started)
            progress.finish("trained \(model.kind.rawValue)")
            let metrics = try evaluate(trained, split: split, threads: configuration.threads)
            logger.info("held-out users", metadata: [
                "model": "\(model.kind.rawValue)", "ndcg_at_100": "\(MetricText.fixed(metrics.ndcgAt100))",
                "recall_at_20": "\(MetricText.fixed(metrics.recallAt20))", "fit_seconds": "\(MetricText.fixed(fitSeconds))",
            ])
            return Row(model: model.kind, metrics: metrics, users: split.users.count, fitSeconds: fitSeconds)
        }
    }

    /// Folds every held-out user into `model` (trained on `split.train`) and averages the
    /// metrics of their lists.
    package static func evaluate(_ model: FactorModel, split: HeldOutUsersSplit, threads: Int) throws -> Metrics {
        let rowOf = Dictionary(uniqueKeysWithValues: split.users.enumerated().map { ($1, Int32($0)) })
        let history = HeldOutLists(split.foldIn, rows: rowOf)
        let relevant = HeldOutLists(split.evaluation, rows: rowOf)
        let (biases, vectors) = try foldIn(model, history: history)
        let heldOut = FactorModel(
            kind: model.kind, k: model.k, globalMean: model.globalMean, userBias: biases, movieBias: model.movieBias,
            userFactors: vectors, movieFactors: model.movieFactors, users: IDIndex(ids: split.users.map { model.users.ids[Int($0)] }),
            movies: model.movies, ratingScale: model.ratingScale)
        let untrained = Set(split.trainedMovies.indices.filter { !split.trainedMovies[$0] }.map { model.movies.ids[$0] })
        let lists = try heldOut.topNForAllUsers(
            count: Metrics.depth, excluding: history.sparse(movieCount: model.movies.count), excludedMovies: untrained,
            threads: threads)
        var sums = Metrics()
        for row in split.users.indices {
            let list = lists.recommendations(forUser: row).map { $0.movieID }
            sums.add(list, relevant: Set(relevant.movies[row].map { model.movies.ids[Int($0)] }))
        }
        return sums.averaged(over: split.users.count)
    }

    /// Each held-out user's bias and vector from their fold-in ratings; models without
    /// vectors (popularity, the baseline) rank every user alike and need none.
    private static func foldIn(_ model: FactorModel, history: HeldOutLists) throws -> (biases: [Float], vectors: [Float]) {
        let users = history.movies.count, k = model.k
        var biases = [Float](repeating: 0, count: users), vectors = [Float](repeating: 0, count: users * k)
        guard k > 0 else { return (biases, vectors) }
        let regularization: FoldInRegularization? = try model.foldsInWithRegularization ? FoldInRegularization(model: model) : nil
        let context = regularization?.context(for: model)
        for u in 0..<users {
            let folded = try model.foldIn(
                movieIndices: history.movies[u], ratings: history.ratings[u], regularization: regularization, context: context)
            biases[u] = folded.bias
            vectors.replaceSubrange((u * k) ..< ((u + 1) * k), with: folded.vector)
        }
        return (biases, vectors)
    }

    /// Rows of a split part grouped by held-out user, in the order of ``HeldOutUsersSplit/users``.
    private struct HeldOutLists {
        var movies: [[Int32]]
        var ratings: [[Float]]

        init(_ triples: RatingTriples, rows: [Int32: Int32]) {
            movies = Array(repeating: [], count: rows.count)
            ratings = Array(repeating: [], count: rows.count)
            for p in 0..<triples.count {
                guard let row = rows[triples.users[p]] else { continue }
                movies[Int(row)].append(triples.movies[p])
                ratings[Int(row)].append(triples.ratings[p])
            }
        }

        /// The lists as sparse rows (user = row), for excluding them from the users' lists.
        func sparse(movieCount: Int) -> SparseRatings {
            var triples = RatingTriples()
            for (row, list) in movies.enumerated() {
                for (movie, rating) in zip(list, ratings[row]) { triples.append(user: Int32(row), movie: movie, rating: rating, timestamp: 0) }
            }
            return SparseRatings(triples, userCount: movies.count, movieCount: movieCount)
        }
    }

    /// The results as a table, one row per model, with the split's size underneath.
    package static func table(_ rows: [Row], split: HeldOutUsersSplit, configuration: Configuration) -> String {
        var out = "model        ndcg@10  recall@20  recall@50  ndcg@100    fit_s  users\n"
        for r in rows {
            let name = r.model.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
            out += name + String(format: "  %7.4f    %7.4f    %7.4f   %7.4f  %7.2f  %5d\n",
                                 r.metrics.ndcgAt10, r.metrics.recallAt20, r.metrics.recallAt50, r.metrics.ndcgAt100, r.fitSeconds, r.users)
        }
        let threshold = configuration.positiveThreshold
        out += "(held-out users: \(split.users.count), \(split.foldIn.count) positives folded in, \(split.evaluation.count) evaluated; "
        out += "ratings >= \(threshold) positive; recall@k divided by min(k, relevant), as in Liang et al. 2018)\n"
        return out
    }
}
