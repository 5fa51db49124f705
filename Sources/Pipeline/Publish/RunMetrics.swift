import Foundation

/// What a run measured on its validation split (stored as `latent.model_runs.metrics`).
package struct RunMetrics: Codable, Sendable, Equatable {
    /// Rating error; nil for models that predict no ratings (popularity, ranking models).
    package var rmse: Double?
    package var mae: Double?
    /// Ranking quality of the model's lists on held-out ratings (>= 4 stars relevant, rated
    /// movies excluded).
    package var ndcgAt10: Double
    package var recallAt20: Double
    /// Popularity's NDCG@10 on the same split: the floor a list must beat.
    package var popularityNdcgAt10: Double
    /// Distinct movies in the published lists over all movies.
    package var coverage: Double?

    package init(rmse: Double?, mae: Double?, ndcgAt10: Double, recallAt20: Double, popularityNdcgAt10: Double, coverage: Double? = nil) {
        self.rmse = rmse
        self.mae = mae
        self.ndcgAt10 = ndcgAt10
        self.recallAt20 = recallAt20
        self.popularityNdcgAt10 = popularityNdcgAt10
        self.coverage = coverage
    }

    enum CodingKeys: String, CodingKey {
        case rmse, mae, coverage
        case ndcgAt10 = "ndcg_at_10"
        case recallAt20 = "recall_at_20"
        case popularityNdcgAt10 = "popularity_ndcg_at_10"
    }
}

/// When a new run may replace the current run of its model: not worse than it by more than
/// these relative margins (validation metrics of the two runs).
package struct Guardrail: Sendable, Equatable {
    /// Largest allowed relative RMSE increase (0.03: at most 3% worse).
    package var maxRMSEIncrease: Double
    /// Largest allowed relative NDCG@10 drop (0.1: at least 90% of the current run's).
    package var maxNDCGDrop: Double

    package init(maxRMSEIncrease: Double = 0.03, maxNDCGDrop: Double = 0.10) {
        self.maxRMSEIncrease = maxRMSEIncrease
        self.maxNDCGDrop = maxNDCGDrop
    }

    /// Nil when `candidate` may replace `current`, otherwise the reason it may not.
    package func rejection(of candidate: RunMetrics, against current: RunMetrics) -> String? {
        if let new = candidate.rmse, let old = current.rmse, new > old * (1 + maxRMSEIncrease) {
            return "validation RMSE \(Self.text(new)) is worse than the current run's \(Self.text(old)) by more than \(Self.percent(maxRMSEIncrease))"
        }
        if candidate.ndcgAt10 < current.ndcgAt10 * (1 - maxNDCGDrop) {
            return "validation NDCG@10 \(Self.text(candidate.ndcgAt10)) is below the current run's \(Self.text(current.ndcgAt10)) by more than \(Self.percent(maxNDCGDrop))"
        }
        return nil
    }

    private static func text(_ x: Double) -> String { String(format: "%.4f", x) }
    private static func percent(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
}

/// Which model's current run the views show.
package struct ServingChoice: Sendable, Equatable {
    /// A model with a current run.
    package struct Candidate: Sendable, Equatable {
        package var model: String
        package var metrics: RunMetrics
        /// Vector length (0: lists only).
        package var dimensions: Int
    }

    package var lists: String
    package var listsReason: String
    package var vectors: String?
    package var vectorsReason: String?
    /// Candidates whose lists rank below popularity on their own validation split.
    package var belowPopularity: [String]

    /// Lists: `preferred` when it has a current run that ranks at least as well as popularity,
    /// otherwise the best validation NDCG@10 among those that do (popularity always does).
    /// Vectors: the best NDCG@10 among models with vectors. Nil when there are no candidates.
    package static func choose(from candidates: [Candidate], preferred: String?) -> ServingChoice? {
        guard !candidates.isEmpty else { return nil }
        func beatsPopularity(_ c: Candidate) -> Bool { c.metrics.ndcgAt10 >= c.metrics.popularityNdcgAt10 }
        let below = candidates.filter { !beatsPopularity($0) }.map(\.model).sorted()
        let eligible = candidates.filter(beatsPopularity)
        let pool = eligible.isEmpty ? candidates : eligible
        let best = pool.max { ($0.metrics.ndcgAt10, $1.model) < ($1.metrics.ndcgAt10, $0.model) } ?? candidates[0]
        var lists = best.model
        var reason = "best validation NDCG@10 (\(String(format: "%.4f", best.metrics.ndcgAt10)))"
        if let preferred {
            if let chosen = eligible.first(where: { $0.model == preferred }) {
                lists = chosen.model
                reason = "LATENT_SERVE_MODEL"
            } else {
                reason += "; LATENT_SERVE_MODEL=\(preferred) has no current run that ranks at least as well as popularity"
            }
        }
        if eligible.isEmpty { reason += "; no model ranks at least as well as popularity" }
        let withVectors = candidates.filter { $0.dimensions > 0 }
        let vectors = withVectors.max { ($0.metrics.ndcgAt10, $1.model) < ($1.metrics.ndcgAt10, $0.model) }
        return ServingChoice(
            lists: lists, listsReason: reason, vectors: vectors?.model,
            vectorsReason: vectors.map { "best validation NDCG@10 among models with vectors (\(String(format: "%.4f", $0.metrics.ndcgAt10)))" },
            belowPopularity: below)
    }
}
