import ArgumentParser
import Models

/// The EASE model's catalogue limit and inputs (its penalty is `--lambda`).
struct EASEOptions: ParsableArguments {
    @Option(name: .customLong("max-movies"), help: "EASE: the largest catalogue it fits (its two movies x movies matrices take 4 bytes per entry each).")
    var maxMovies: Int?

    @Option(name: .customLong("liked-threshold"), help: "EASE: movies rated at or above this are a user's inputs, in training and fold-in (default 3.5; 0: every rated movie).")
    var likedThreshold: Float?

    func validate() throws {
        if let maxMovies, maxMovies <= 0 { throw ValidationError("--max-movies must be positive, got \(maxMovies)") }
    }

    /// Rejects these options for a model other than EASE.
    func validate(for model: TrainCommand.Kind) throws {
        if model != .ease, maxMovies != nil || likedThreshold != nil { throw ValidationError("--max-movies and --liked-threshold are for ease") }
    }

    func apply(to c: inout EASE.Configuration) {
        if let maxMovies { c.maxMovies = maxMovies }
        if let likedThreshold { c.likedThreshold = likedThreshold }
    }
}
