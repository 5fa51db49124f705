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
    /// ALS with the ranking objective: implicit-feedback ALS (Hu, Koren and Volinsky 2008;
    /// Rendle et al. 2021) with the genre prior; lists and vectors, no ratings.
    case ials
    /// The rating MLP of the study of latent spaces for user preferences (Brazilian Journal of
    /// Technology, 2021): embeddings through three ReLU layers to a clipped rating.
    case mlp

    /// The kinds a publish or a nightly cycle trains when none is named: every kind but
    /// ``mlp``, whose top-N lists score every user against every movie through its network
    /// (thousands of times the cost of a dot product) and whose ratings are no better than
    /// MF's; `--model mlp` and `LATENT_TRAIN_MODELS=mlp` still publish it.
    package static let nightlyDefaults: [ModelKind] = allCases.filter { $0 != .mlp }
    /// The item-item closed form of Steck, "Embarrassingly shallow autoencoders for sparse
    /// data" (2019); lists only, for catalogues whose movies² matrices fit in memory.
    case ease
    /// EASE's scores plus ials': one list from both (see ``EASEBlend``); lists only, for the
    /// catalogues EASE fits.
    case blend

    /// The configuration with every default (what a user who passes nothing gets).
    package var defaultConfiguration: ModelConfiguration {
        switch self {
        case .popularity: return .popularity
        case .baseline: return .baseline(.init())
        case .mf: return .mf(.init())
        case .als: return .als(.init())
        case .neural: return .neural(.init())
        case .ials: return .ials(.rankingDefaults)
        case .mlp: return .mlp(.init())
        case .ease: return .ease(.init())
        case .blend: return .blend(.init())
        }
    }

    /// Whether the model's factors are vectors worth publishing (movie and user vectors,
    /// similar movies, genre vectors). EASE's factors are a user's rated movies and the
    /// columns of its weight matrix, as long as the catalogue: not embeddings (a blend's too).
    package var hasVectors: Bool { self != .ease && self != .blend }
}
