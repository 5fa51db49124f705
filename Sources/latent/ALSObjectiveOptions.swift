import ArgumentParser
import Models

/// What `latent train als` fits (`--objective`) and the weights of the ranking objective (the
/// ials model).
struct ALSObjectiveOptions: ParsableArguments {
    /// What ALS fits: ratings, or which movies a user rates (the "ials" model).
    enum Objective: String, ExpressibleByArgument, CaseIterable {
        case rating, ranking
    }

    @Option(help: "ALS: rating (fit the ratings) or ranking (implicit-feedback ALS after Hu, Koren and Volinsky, \"Collaborative filtering for implicit feedback datasets\": which movies a user rates; trains the ials model). Default: rating.")
    var objective: Objective?

    @Option(name: .customLong("unobserved-weight"), help: "ials: weight of every user-movie pair's pull of its score towards 0 (alpha_0 in Rendle et al., \"Revisiting the performance of iALS on item recommendation benchmarks\").")
    var unobservedWeight: Float?

    @Option(name: .customLong("confidence-weight"), help: "ials: a rated pair's confidence is 1 + this times its rating (Hu, Koren and Volinsky).")
    var confidenceWeight: Float?

    @Option(name: .customLong("positive-threshold"), help: "ials: ratings below this are not positives (their pairs count as unobserved); 0 takes every rating.")
    var positiveThreshold: Float?

    /// Whether `model` is ALS with the ranking objective: `ials`, or `als --objective ranking`.
    func ranks(_ model: TrainCommand.Kind) -> Bool { model == .ials || (model == .als && objective == .ranking) }

    /// Rejects these options for a model they do not apply to.
    func validate(for model: TrainCommand.Kind) throws {
        if objective != nil, model != .als, model != .ials {
            throw ValidationError("--objective is for als (--objective ranking trains the ials model), not \(model.rawValue)")
        }
        if model == .ials, objective == .rating {
            throw ValidationError("ials is ALS with the ranking objective: drop --objective rating, or train als")
        }
        if !ranks(model), unobservedWeight != nil || confidenceWeight != nil || positiveThreshold != nil {
            throw ValidationError("--unobserved-weight, --confidence-weight and --positive-threshold are for ials (als --objective ranking)")
        }
    }

    /// Sets the ranking objective's weights that were given.
    func apply(to c: inout AlternatingLeastSquares.Configuration) {
        if let unobservedWeight { c.unobservedWeight = unobservedWeight }
        if let confidenceWeight { c.confidenceWeight = confidenceWeight }
        if let positiveThreshold { c.positiveThreshold = positiveThreshold }
    }
}
