import Models

/// Everything one run publishes, computed from the trained model before any row is written.
package struct RunContent: Sendable {
    /// The model whose vectors and biases are published.
    package var model: FactorModel
    /// Top-N per user, by the model's dense user index.
    package var recommendations: TopNTable
    /// Whether published scores are predicted ratings clipped to the model's scale (rating
    /// models) or the raw ranking score (popularity and ranking models).
    package var clipsScores: Bool
    /// Similar movies by measure (empty for models without vectors).
    package var similar: [(measure: SimilarityMeasure, table: TopNTable)]
    /// Genre vectors (nil for models without vectors).
    package var genres: GenreVectors?

    package init(
        model: FactorModel, recommendations: TopNTable, clipsScores: Bool,
        similar: [(measure: SimilarityMeasure, table: TopNTable)], genres: GenreVectors?
    ) {
        self.model = model
        self.recommendations = recommendations
        self.clipsScores = clipsScores
        self.similar = similar
        self.genres = genres
    }

    /// The tables this content fills: lists, biases and vectors always (empty vectors for
    /// `k == 0`, so every run can be loaded back for the live path); similar movies and genre
    /// vectors only when the model has vectors.
    var tables: [RunTable] {
        vectorLength > 0 ? RunTable.allCases : [.userRecommendations, .movieVectors, .userVectors]
    }

    /// The length of the published vectors: `k`, or 0 for models whose factors are no
    /// embeddings (EASE's are catalogue-long rows of its weight matrix).
    package var vectorLength: Int { model.kind.hasVectors ? model.k : 0 }

    /// Whether the live path needs the model file: the vectors alone cannot rebuild a model
    /// with an encoder (the neural embedder), one that scores through a network (the rating
    /// MLP), or one that publishes no vectors (EASE).
    var needsModelFile: Bool { model.encoder != nil || model.ratingHead != nil || (model.k > 0 && !model.kind.hasVectors) }

    /// What the model file holds: the model without its users for EASE (its user side is
    /// the users' rated movies, which the live path reads from the ratings).
    var liveModel: FactorModel {
        guard !model.kind.hasVectors else { return model }
        var stripped = model
        stripped.users = IDIndex()
        stripped.userBias = []
        stripped.userFactors = []
        return stripped
    }

    /// Distinct movies in the published lists over all movies of the model.
    package var coverage: Double {
        guard model.movies.count > 0 else { return 0 }
        var seen = Set<Int64>()
        let table = recommendations
        for u in 0..<table.userCount {
            for slot in 0..<Int(table.filled[u]) { seen.insert(table.movieIDs[u * table.count + slot]) }
        }
        return Double(seen.count) / Double(model.movies.count)
    }
}
