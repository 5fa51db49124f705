import ArgumentParser
import Models

/// ALS's penalties, genre prior and missing-data term (`--lambda` is also EASE's penalty).
struct ALSRegularisationOptions: ParsableArguments {
    @Option(help: "ALS: regularisation of the user and movie vectors, also the genre prior's pull (tau' in Razafindrakoto's ALS with genre features). EASE: the L2 penalty added to the diagonal of X^T X (default 200).")
    var lambda: Float?

    @Option(help: "ALS: bias regularisation (gamma' in Razafindrakoto's ALS with genre features).")
    var gamma: Float?

    @Option(help: "ALS: genre vector regularisation.")
    var tau: Float?

    @Flag(name: .customLong("no-genres"), help: "ALS: leave out the genre prior (ALS with biases only, Razafindrakoto's Algorithm 1).")
    var noGenres = false

    @Option(name: .customLong("missing-weight"), help: "ALS: weight of the missing-data term (unrated pairs as weak ratings, Steck 2010; 0 gives Razafindrakoto's ALS with genre features exactly).")
    var missingWeight: Float?

    @Option(name: .customLong("missing-rating"), help: "ALS: the rating the missing-data term imputes for unrated pairs.")
    var missingRating: Float?

    /// Rejects these options for a model they do not apply to; `ranking` is ALS with the
    /// ranking objective, which has no biases.
    func validate(for model: TrainCommand.Kind, ranking: Bool) throws {
        let alternating = model == .als || model == .ials
        if !alternating, missingWeight != nil || missingRating != nil || (model != .ease && lambda != nil) || gamma != nil || tau != nil || noGenres {
            throw ValidationError("--missing-weight, --missing-rating, --gamma, --tau and --no-genres are for als; --lambda for als and ease")
        }
        if ranking, missingWeight != nil || missingRating != nil || gamma != nil {
            throw ValidationError("--missing-weight, --missing-rating and --gamma are for als with the rating objective (ials has no biases)")
        }
    }

    /// Sets the values given. With the rating objective `--lambda` alone sets `tau` too (the
    /// rule `tau == lambda` of Razafindrakoto's ALS).
    func apply(to c: inout AlternatingLeastSquares.Configuration) {
        if let lambda { c.lambda = lambda }
        if let tau {
            c.tau = tau
        } else if let lambda, c.objective == .rating {
            c.tau = lambda
        }
        if noGenres { c.useGenres = false }
        if let gamma { c.gamma = gamma }
        if let missingWeight { c.missingWeight = missingWeight }
        if let missingRating { c.missingRating = missingRating }
    }
}
