import Foundation

/// Random search over a model's hyper-parameters, scored by RMSE on a validation split carved
/// from the training ratings (never on the test data).
///
/// The configuration the caller passes is always tried first, so tuning never returns
/// something worse on the validation split than the defaults.
public struct HyperparameterSearch: Sendable {
    public struct Trial: Sendable {
        public var configuration: ModelConfiguration
        public var validation: ErrorMetrics
        public var seconds: Double
    }

    /// Number of configurations tried (the starting one included).
    public var trials: Int
    /// Fraction of the training ratings held out for scoring.
    public var validationFraction: Double
    public var seed: UInt64

    public init(trials: Int = 8, validationFraction: Double = 0.1, seed: UInt64 = 7) {
        self.trials = trials
        self.validationFraction = validationFraction
        self.seed = seed
    }

    /// Tries `trials` configurations around `start` and returns every trial, best first.
    public func run(
        from start: ModelConfiguration, ratings: RatingTriples, of dataset: Dataset,
        progress: ProgressReporter = .silent
    ) throws -> [Trial] {
        guard trials >= 1 else {
            throw ModelError.invalidParameter(name: "trials", value: "\(trials)", requirement: "at least 1")
        }
        let split = try Splits.validation(from: ratings, fraction: validationFraction, seed: seed)
        var results: [Trial] = []
        for (number, candidate) in candidates(around: start).enumerated() {
            let started = Date()
            let model = try candidate.fit(split.train, of: dataset)
            let metrics = Evaluation.errors(of: model, on: split.test, train: split.train)
            let trial = Trial(configuration: candidate, validation: metrics, seconds: Date().timeIntervalSince(started))
            results.append(trial)
            progress.step("tuning \(candidate.kind.rawValue)", [
                "trial": "\(number + 1)/\(trials)", "validation_rmse": MetricText.fixed(metrics.rmse),
                "best": MetricText.fixed(results.map(\.validation.rmse).min() ?? .nan),
                "params": Self.describe(candidate),
            ])
        }
        return results.sorted { $0.validation.rmse < $1.validation.rmse }
    }

    /// `start`, then distinct random draws from the model's grid (deterministic for the seed).
    func candidates(around start: ModelConfiguration) -> [ModelConfiguration] {
        var random = SeededRandom(seed: seed)
        var out = [start]
        var attempts = 0
        while out.count < trials, attempts < trials * 50 {
            attempts += 1
            let candidate = draw(around: start, using: &random)
            if !out.contains(candidate) { out.append(candidate) }
        }
        return out
    }

    private func draw(around start: ModelConfiguration, using random: inout SeededRandom) -> ModelConfiguration {
        func pick<T>(_ values: [T]) -> T { values[random.nextInt(below: values.count)] }
        switch start {
        case .popularity:
            return .popularity
        case .baseline(var c):
            c.userRegularisation = pick([1, 2, 5, 10, 15, 25])
            c.movieRegularisation = pick([1, 2, 5, 10, 15, 25])
            return .baseline(c)
        case .mf(var c):
            c.k = pick([16, 32, 64, 128])
            c.learningRate = pick([0.005, 0.01, 0.02])
            c.regularisation = pick([0.02, 0.035, 0.05, 0.08, 0.12])
            c.biasRegularisation = pick([0.005, 0.01, 0.02, 0.05])
            return .mf(c)
        case .als(var c):
            c.k = pick([16, 32, 64])
            c.lambda = pick([0.03, 0.05, 0.08, 0.1, 0.15, 0.25])
            c.tau = c.lambda
            c.gamma = pick([1, 2, 5, 10, 20])
            c.regularizationExponent = pick([0.5, 0.75, 1])
            return .als(c)
        case .neural(var c):
            c.dimension = pick([64, 128, 200])
            c.dropout = pick([0.3, 0.5, 0.7])
            c.learningRate = pick([0.0005, 0.001, 0.002])
            return .neural(c)
        }
    }

    /// The tuned parameters of `configuration`, as `name=value,...`.
    public static func describe(_ configuration: ModelConfiguration) -> String {
        let keys: [String]
        switch configuration {
        case .popularity: keys = []
        case .baseline: keys = ["userRegularisation", "movieRegularisation"]
        case .mf: keys = ["k", "learningRate", "regularisation", "biasRegularisation"]
        case .als: keys = ["k", "lambda", "gamma", "regularizationExponent"]
        case .neural: keys = ["k", "dropout", "learningRate"]
        }
        let parameters = configuration.parameters
        return keys.map { "\($0)=\(parameters[$0] ?? "?")" }.joined(separator: ",")
    }
}
