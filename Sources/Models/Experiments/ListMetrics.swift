import Foundation

/// Measures of one top-N list against a user's relevant movies, as Liang, Krishnan, Hoffman
/// and Jebara compute them in "Variational autoencoders for collaborative filtering" (2018).
package enum ListMetrics {
    /// Relevant movies among the first `k` of `list`, divided by `min(k, relevant.count)`:
    /// unlike plain recall it reaches 1 whenever the list could not have held more hits
    /// (0 when nothing is relevant).
    package static func recall<Movie: Hashable>(_ list: [Movie], relevant: Set<Movie>, k: Int) -> Double {
        let possible = min(k, relevant.count)
        guard possible > 0 else { return 0 }
        return Double(hits(list, relevant: relevant, k: k)) / Double(possible)
    }

    /// Binary-relevance NDCG of the first `k` of `list`: DCG with gain `1 / log2(rank + 1)`
    /// (rank from 1) over the DCG of the ideal list, `min(k, relevant.count)` hits on top.
    package static func ndcg<Movie: Hashable>(_ list: [Movie], relevant: Set<Movie>, k: Int) -> Double {
        var dcg = 0.0, ideal = 0.0
        for (rank, movie) in list.prefix(k).enumerated() where relevant.contains(movie) { dcg += gain(rank) }
        for rank in 0..<min(k, relevant.count) { ideal += gain(rank) }
        return ideal > 0 ? dcg / ideal : 0
    }

    private static func hits<Movie: Hashable>(_ list: [Movie], relevant: Set<Movie>, k: Int) -> Int {
        list.prefix(k).reduce(0) { $0 + (relevant.contains($1) ? 1 : 0) }
    }

    /// The discount of 0-based `rank`.
    private static func gain(_ rank: Int) -> Double { 1 / log2(Double(rank + 2)) }
}
