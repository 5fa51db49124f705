import ArgumentParser
import Models

/// The EASE model's catalogue limit and inputs (its penalty is `--lambda`), also the blend's,
/// and the blend's weight.
struct EASEOptions: ParsableArguments {
    @Option(name: .customLong("max-movies"), help: "EASE: the largest catalogue it fits (its two movies x movies matrices take 4 bytes per entry each).")
    var maxMovies: Int?

    @Option(name: .customLong("liked-threshold"), help: "EASE: movies rated at or above this are a user's inputs, in training and fold-in (default 3.5; 0: every rated movie).")
    var likedThreshold: Float?

    @Option(name: .customLong("blend-weight"), help: "blend: the weight of ials' scores added to EASE's (default 1).")
    var blendWeight: Float?

    func validate() throws {
        if let maxMovies, maxMovies <= 0 { throw ValidationError("--max-movies must be positive, got \(maxMovies)") }
        if let blendWeight, !(blendWeight >= 0 && blendWeight.isFinite) {
            throw ValidationError("--blend-weight must be zero or a positive number, got \(blendWeight)")
        }
    }

    /// Rejects these options for a model other than EASE and the blend.
    func validate(for model: TrainCommand.Kind) throws {
        if model != .ease, model != .blend, maxMovies != nil || likedThreshold != nil {
            throw ValidationError("--max-movies and --liked-threshold are for ease and blend")
        }
        if model != .blend, blendWeight != nil { throw ValidationError("--blend-weight is for blend") }
    }

    func apply(to c: inout EASE.Configuration) {
        if let maxMovies { c.maxMovies = maxMovies }
        if let likedThreshold { c.likedThreshold = likedThreshold }
    }
}
