/// The kinds of model Latent trains; each names its default configuration.
package enum ModelKind: String, Sendable, CaseIterable, Codable {
    /// Most-rated movies first; lists only.
    case popularity
    /// Global mean plus user and movie biases.
    case baseline
    /// Biased matrix factorisation by SGD (Koren, Bell and Volinsky, "Matrix factorization
    /// techniques for recommender systems", 2009).
    case mf
    /// ALS with biases and genre features.
    case als
    /// The multinomial softmax embedder (Liang et al., "Variational autoencoders for
    /// collaborative filtering", 2018: Mult-DAE); lists and vectors, no ratings.
    case neural
    /// The item-item closed form of Steck, "Embarrassingly shallow autoencoders for sparse
    /// data" (2019); lists only, for catalogues whose movies² matrices fit in memory.
    case ease

    /// The configuration with every default (what a user who passes nothing gets).
    package var defaultConfiguration: ModelConfiguration {
        switch self {
        case .popularity: return .popularity
        case .baseline: return .baseline(.init())
        case .mf: return .mf(.init())
        case .als: return .als(.init())
        case .neural: return .neural(.init())
        case .ease: return .ease(.init())
        }
    }

    /// Whether the model's factors are vectors worth publishing (movie and user vectors,
    /// similar movies, genre vectors). EASE's factors are a user's rated movies and the
    /// columns of its weight matrix, as long as the catalogue: not embeddings.
    package var hasVectors: Bool { self != .ease }
}
