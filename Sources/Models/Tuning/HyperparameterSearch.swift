import Foundation

/// Random local search over a model's hyper-parameters, scored on a validation split carved
/// from the training ratings (never on the test data): by RMSE for models that predict
/// ratings, by NDCG@10 for models that only rank.
///
/// Candidates are drawn around the starting configuration (each tuned value multiplied by a
/// factor between 1/2 and 2, k one step up or down), so a search that starts from the last
/// run's winners follows the data as it grows. The starting configuration is always tried
/// first, so tuning never returns something worse on the validation split than where it began.
/// Trials run at reduced effort (``ModelConfiguration/trialEffort``); the winner is then fitted
/// in full by the caller.
package struct HyperparameterSearch: Sendable {
    package struct Trial: Sendable {
        package var configuration: ModelConfiguration
        package var validation: ErrorMetrics
        /// Validation NDCG@10 (ranking models only).
        package var ndcg: Double?
        package var seconds: Double

        /// What the search minimises: RMSE, or minus NDCG@10 for ranking models.
        package var loss: Double { ndcg.map { -$0 } ?? validation.rmse }
    }

    /// Number of configurations tried at most (the starting one included).
    package var trials: Int
    /// Fraction of the training ratings held out for scoring.
    package var validationFraction: Double
    package var seed: UInt64
    /// Wall-clock seconds the search may take: a candidate is skipped when its expected time
    /// (the first trial's, scaled by the square of its dimension against the start's) would
    /// not end in time; the first trial always runs. `nil`: no limit.
    package var budget: TimeInterval?
    /// Parameters every candidate keeps at the start's value.
    package var pinned: Set<TunedParameter> = []

    package init(trials: Int = 8, validationFraction: Double = 0.1, seed: UInt64 = 7, budget: TimeInterval? = nil) {
        self.trials = trials
        self.validationFraction = validationFraction
        self.seed = seed
        self.budget = budget
    }

    /// Tries up to `trials` configurations around `start` and returns every trial, best first.
    package func run(
        from start: ModelConfiguration, ratings: RatingTriples, of dataset: Dataset,
        progress: ProgressReporter = .silent
    ) throws -> [Trial] {
        guard trials >= 1 else {
            throw ModelError.invalidParameter(name: "trials", value: "\(trials)", requirement: "at least 1")
        }
        let split = try Splits.validation(from: ratings, fraction: validationFraction, seed: seed)
        let started = Date()
        var results: [Trial] = []
        for (number, candidate) in candidates(around: start).enumerated() {
            if let budget, let first = results.first,
               Date().timeIntervalSince(started) + Self.expectedSeconds(of: candidate, after: first) > budget { continue }
            let trial = try evaluate(candidate, on: split, of: dataset)
            results.append(trial)
            progress.step("tuning \(candidate.kind.rawValue)", [
                "trial": "\(number + 1)/\(trials)", "loss": MetricText.fixed(trial.loss),
                "best": MetricText.fixed(results.map(\.loss).min() ?? .nan), "params": Self.describe(candidate),
            ])
        }
        return results.sorted { $0.loss < $1.loss }
    }

    /// A trial's cost grows with the square of the dimension (Gram matrices, k x k solves).
    static func expectedSeconds(of candidate: ModelConfiguration, after first: Trial) -> Double {
        let dimension = { (c: ModelConfiguration) in c.tunedValues[.k] ?? c.tunedValues[.dimension] ?? 1 }
        let ratio = dimension(candidate) / max(dimension(first.configuration), 1)
        return first.seconds * max(1, ratio * ratio)
    }

    private func evaluate(_ candidate: ModelConfiguration, on split: RatingSplit, of dataset: Dataset) throws -> Trial {
        let started = Date()
        let model = try candidate.trialEffort.fit(split.train, of: dataset)
        let errors = Evaluation.errors(of: model, on: split.test, train: split.train)
        let ndcg = candidate.predictsRatings
            ? nil
            : try Evaluation.ranking(of: model, train: split.train, test: split.test, cutoffs: [10], sample: RankingSample(maxUsers: 20_000))[0].ndcg
        return Trial(configuration: candidate, validation: errors, ndcg: ndcg, seconds: Date().timeIntervalSince(started))
    }

    /// `start`, then distinct random draws around it (deterministic for the seed).
    func candidates(around start: ModelConfiguration) -> [ModelConfiguration] {
        var random = SeededRandom(seed: seed)
        var out = [start]
        var attempts = 0
        while out.count < trials, attempts < trials * 50 {
            attempts += 1
            let candidate = start.applying(draw(around: start.tunedValues, using: &random))
            if !out.contains(candidate) { out.append(candidate) }
        }
        return out
    }

    private func draw(around values: [TunedParameter: Double], using random: inout SeededRandom) -> [TunedParameter: Double] {
        let factors = [0.5, 0.7, 1, 1.4, 2]
        let dimensions = [16, 32, 64, 128, 200]
        var out = values
        for (parameter, value) in values where !pinned.contains(parameter) {
            switch parameter {
            case .k, .dimension:
                let here = dimensions.firstIndex { Double($0) >= value } ?? (dimensions.count - 1)
                let step = random.nextInt(below: 3) - 1
                out[parameter] = Double(dimensions[min(max(here + step, 0), dimensions.count - 1)])
            case .dropout:
                out[parameter] = min(0.9, max(0.1, value + [-0.2, 0, 0.2][random.nextInt(below: 3)]))
            default:
                out[parameter] = value * factors[random.nextInt(below: factors.count)]
            }
        }
        return out
    }

    /// The tuned parameters of `configuration`, as `name=value,...`.
    package static func describe(_ configuration: ModelConfiguration) -> String {
        configuration.tunedValues.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key.rawValue)=\(MetricText.fixed($0.value))" }.joined(separator: ",")
    }
}

extension ModelConfiguration {
    /// Iterations or epochs a search trial runs at most: candidates are compared at equal,
    /// reduced effort (ALS is close to its final ranking of configurations after 5 iterations),
    /// so a budget buys several trials on large data.
    static let trialIterations = 5, trialEpochs = 40

    /// This configuration with its effort capped for a search trial.
    var trialEffort: ModelConfiguration {
        switch self {
        case .als(var c):
            c.iterations = min(c.iterations, Self.trialIterations)
            return .als(c)
        case .mf(var c):
            c.epochs = min(c.epochs, Self.trialEpochs)
            return .mf(c)
        case .neural(var c):
            c.epochs = min(c.epochs, Self.trialEpochs)
            return .neural(c)
        case .popularity, .baseline, .ease:
            return self
        }
    }
}
