/// A hyper-parameter the search varies; which ones apply depends on the model kind.
public enum TunedParameter: String, CaseIterable, Sendable, Codable {
    case k, lambda, gamma, regularizationExponent
    case learningRate, regularisation, biasRegularisation
    case userRegularisation, movieRegularisation
    case dimension, dropout
}

extension ModelConfiguration {
    /// The values the search varies for this kind (none for popularity).
    public var tunedValues: [TunedParameter: Double] {
        switch self {
        case .popularity: return [:]
        case .baseline(let c):
            return [.userRegularisation: Double(c.userRegularisation), .movieRegularisation: Double(c.movieRegularisation)]
        case .mf(let c):
            return [.k: Double(c.k), .learningRate: Double(c.learningRate), .regularisation: Double(c.regularisation),
                    .biasRegularisation: Double(c.biasRegularisation)]
        case .als(let c):
            return [.k: Double(c.k), .lambda: Double(c.lambda), .gamma: Double(c.gamma)]
        case .neural(let c):
            return [.dimension: Double(c.dimension), .dropout: Double(c.dropout), .learningRate: Double(c.learningRate)]
        }
    }

    /// This configuration with the given tuned values; parameters this kind does not tune are
    /// ignored, so the values of another kind's run change nothing.
    public func applying(_ values: [TunedParameter: Double]) -> ModelConfiguration {
        func float(_ p: TunedParameter, _ current: Float) -> Float { values[p].map { Float($0) } ?? current }
        func int(_ p: TunedParameter, _ current: Int) -> Int { values[p].map { Int($0.rounded()) } ?? current }
        switch self {
        case .popularity:
            return self
        case .baseline(var c):
            c.userRegularisation = float(.userRegularisation, c.userRegularisation)
            c.movieRegularisation = float(.movieRegularisation, c.movieRegularisation)
            return .baseline(c)
        case .mf(var c):
            c.k = int(.k, c.k)
            c.learningRate = float(.learningRate, c.learningRate)
            c.regularisation = float(.regularisation, c.regularisation)
            c.biasRegularisation = float(.biasRegularisation, c.biasRegularisation)
            return .mf(c)
        case .als(var c):
            c.k = int(.k, c.k)
            c.lambda = float(.lambda, c.lambda)
            c.gamma = float(.gamma, c.gamma)
            return .als(c)
        case .neural(var c):
            c.dimension = int(.dimension, c.dimension)
            c.dropout = float(.dropout, c.dropout)
            c.learningRate = float(.learningRate, c.learningRate)
            return .neural(c)
        }
    }
}
