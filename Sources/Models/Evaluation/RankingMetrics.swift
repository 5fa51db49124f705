import COpenBLAS
import Dispatch
import Foundation

/// Top-k recommendation quality on held-out ratings: a held-out rating at or above the
/// relevance threshold (4 stars by default) is a relevant item; movies the user rated in
/// training are never recommended. Averages are over users with at least one relevant
/// held-out item.
package struct RankingMetrics: Sendable, Equatable, CustomStringConvertible {
    package var k: Int
    package var precision: Double
    package var recall: Double
    package var ndcg: Double
    /// Mean average precision at k, normalised by `min(relevant, k)`.
    package var map: Double
    /// Distinct movies recommended to anyone, over all movies.
    package var coverage: Double
    /// Users evaluated.
    package var users: Int

    package var description: String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return "precision@\(k)=\(f(precision)) recall@\(k)=\(f(recall)) ndcg@\(k)=\(f(ndcg)) map@\(k)=\(f(map)) "
            + "coverage=\(f(coverage)) users=\(users)"
    }
}

/// Which of the users with relevant held-out ratings a ranking evaluation scores.
package struct RankingSample: Sendable, Equatable {
    /// At most this many users, drawn without replacement by `seed`; `nil`: every user.
    /// Scoring costs users x movies x k, so on large data a fixed sample of some ten thousand
    /// users measures the same averages (standard error well under 0.01) in a fraction of the
    /// time.
    package var maxUsers: Int?
    package var seed: UInt64

    package init(maxUsers: Int? = nil, seed: UInt64 = 1) {
        self.maxUsers = maxUsers
        self.seed = seed
    }

    /// Every user.
    package static let all = RankingSample()
}

extension Evaluation {
    /// Ranking metrics of `model`: every movie is scored for every evaluated user
    /// (`b_i + p_u . q_i`, one sgemm per block of users), rated-in-training movies excluded.
    /// `train` and `test` use the model's dense indices.
    package static func ranking(
        of model: FactorModel, train: RatingTriples, test: RatingTriples, k: Int = 10,
        relevanceThreshold: Float = 4, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> RankingMetrics {
        try ranking(of: model, train: train, test: test, cutoffs: [k], relevanceThreshold: relevanceThreshold, threads: threads)[0]
    }

    /// Ranking metrics at several cut-offs from one scoring pass (one top list of the largest
    /// cut-off per user), in the order of `cutoffs`.
    package static func ranking(
        of model: FactorModel, train: RatingTriples, test: RatingTriples, cutoffs: [Int], sample: RankingSample = .all,
        relevanceThreshold: Float = 4, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [RankingMetrics] {
        let scorer = RankingScorer.factors(
            k: model.k, userFactors: model.userFactors, movieFactors: model.movieFactors, movieBias: model.movieBias)
        return try RankingEvaluator(
            userCount: model.users.count, movieCount: model.movies.count, train: train, test: test, cutoffs: cutoffs,
            threshold: relevanceThreshold, sample: sample, threads: threads
        ).run(scorer)
    }

    /// The same metrics for the popularity recommender: every user gets the movies with the
    /// most training ratings that they have not rated. The reference any model must beat.
    package static func popularityRanking(
        userCount: Int, movieCount: Int, train: RatingTriples, test: RatingTriples, k: Int = 10,
        relevanceThreshold: Float = 4, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> RankingMetrics {
        try popularityRanking(
            userCount: userCount, movieCount: movieCount, train: train, test: test, cutoffs: [k],
            relevanceThreshold: relevanceThreshold, threads: threads)[0]
    }

    /// Popularity's metrics at several cut-offs, in the order of `cutoffs`.
    package static func popularityRanking(
        userCount: Int, movieCount: Int, train: RatingTriples, test: RatingTriples, cutoffs: [Int],
        sample: RankingSample = .all, relevanceThreshold: Float = 4,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> [RankingMetrics] {
        var popularity = [Float](repeating: 0, count: movieCount)
        for m in train.movies where m >= 0 && Int(m) < movieCount { popularity[Int(m)] += 1 }
        return try RankingEvaluator(
            userCount: userCount, movieCount: movieCount, train: train, test: test, cutoffs: cutoffs,
            threshold: relevanceThreshold, sample: sample, threads: threads
        ).run(.fixed(popularity))
    }
}
