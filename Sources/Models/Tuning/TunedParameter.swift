/// A hyper-parameter the search varies; which ones apply depends on the model kind.
package enum TunedParameter: String, CaseIterable, Sendable, Codable {
    case k, lambda, gamma
    case learningRate, regularisation, biasRegularisation
    case userRegularisation, movieRegularisation
    case dimension, dropout
    case unobservedWeight
}

extension ModelConfiguration {
    /// The values the search varies for this kind (none for popularity).
    package var tunedValues: [TunedParameter: Double] {
        switch self {
        case .popularity: return [:]
        case .baseline(let c): return TunedKinds.baseline.values(of: c)
        case .mf(let c): return TunedKinds.mf.values(of: c)
        case .als(let c): return TunedKinds.als.values(of: c)
        case .neural(let c): return TunedKinds.neural.values(of: c)
        case .ials(let c): return TunedKinds.ials.values(of: c)
        case .mlp(let c): return TunedKinds.mlp.values(of: c)
        case .ease(let c): return TunedKinds.ease.values(of: c)
        case .blend(let c): return TunedKinds.blend.values(of: c)
        }
    }

    /// This configuration with the given tuned values; parameters this kind does not tune are
    /// ignored, so the values of another kind's run change nothing.
    package func applying(_ values: [TunedParameter: Double]) -> ModelConfiguration {
        switch self {
        case .popularity: return self
        case .baseline(let c): return .baseline(TunedKinds.baseline.applying(values, to: c))
        case .mf(let c): return .mf(TunedKinds.mf.applying(values, to: c))
        case .als(let c): return .als(TunedKinds.als.applying(values, to: c))
        case .neural(let c): return .neural(TunedKinds.neural.applying(values, to: c))
        case .ials(let c): return .ials(TunedKinds.ials.applying(values, to: c))
        case .mlp(let c): return .mlp(TunedKinds.mlp.applying(values, to: c))
        case .ease(let c): return .ease(TunedKinds.ease.applying(values, to: c))
        case .blend(let c): return .blend(TunedKinds.blend.applying(values, to: c))
        }
    }
}

/// Where each tuned parameter lives in one kind's configuration.
private struct TunedFields<Configuration> {
    var floats: [(TunedParameter, WritableKeyPath<Configuration, Float>)] = []
    var ints: [(TunedParameter, WritableKeyPath<Configuration, Int>)] = []

    func values(of c: Configuration) -> [TunedParameter: Double] {
        var out: [TunedParameter: Double] = [:]
        for (p, path) in floats { out[p] = Double(c[keyPath: path]) }
        for (p, path) in ints { out[p] = Double(c[keyPath: path]) }
        return out
    }

    func applying(_ values: [TunedParameter: Double], to c: Configuration) -> Configuration {
        var c = c
        for (p, path) in floats { if let v = values[p] { c[keyPath: path] = Float(v) } }
        for (p, path) in ints { if let v = values[p] { c[keyPath: path] = Int(v.rounded()) } }
        return c
    }
}

/// The tuned fields of each kind.
private enum TunedKinds {
    static var baseline: TunedFields<BiasBaseline.Configuration> {
        .init(floats: [(.userRegularisation, \.userRegularisation), (.movieRegularisation, \.movieRegularisation)])
    }
    static var mf: TunedFields<MatrixFactorizationSGD.Configuration> {
        .init(floats: [(.learningRate, \.learningRate), (.regularisation, \.regularisation), (.biasRegularisation, \.biasRegularisation)],
              ints: [(.k, \.k)])
    }
    static var als: TunedFields<AlternatingLeastSquares.Configuration> {
        .init(floats: [(.lambda, \.lambda), (.gamma, \.gamma)], ints: [(.k, \.k)])
    }
    static var ials: TunedFields<AlternatingLeastSquares.Configuration> {
        .init(floats: [(.lambda, \.lambda), (.unobservedWeight, \.unobservedWeight)], ints: [(.k, \.k)])
    }
    static var neural: TunedFields<NeuralEmbedder.Configuration> {
        .init(floats: [(.dropout, \.dropout), (.learningRate, \.learningRate)], ints: [(.dimension, \.dimension)])
    }
    static var mlp: TunedFields<RatingMLP.Configuration> {
        .init(floats: [(.learningRate, \.learningRate)], ints: [(.dimension, \.dimension)])
    }

    static var ease: TunedFields<EASE.Configuration> {
        .init(floats: [(.lambda, \.lambda)])
    }
    /// EASE's penalty (saved as `lambda`; ials' settings are saved under `ials.`, which the
    /// nightly search's continuation would not find).
    static var blend: TunedFields<EASEBlend.Configuration> {
        .init(floats: [(.lambda, \.ease.lambda)])
    }
}
