import ArgumentParser
import Models

extension SimilarityMeasure: ExpressibleByArgument {}

/// `latent similar MODEL --movie ID`: the nearest movies in the model's latent space.
struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Movies nearest to a movie by cosine or dot product of their vectors.")

    @Argument(help: ArgumentHelp("A model file written by latent train.", valueName: "model"))
    var modelPath: String

    @Option(help: "The movie id.")
    var movie: Int64

    @Option(help: "How many movies.")
    var count = 10

    @Option(help: "cosine (direction only) or dot (also rewards popular movies, whose vectors are long).")
    var measure: SimilarityMeasure = .cosine

    @OptionGroup var seen: SeenRatingsOptions

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
    }

    func run() throws {
        let model = try FactorModel.load(from: modelPath)
        try seen.printList(try model.similar(movieID: movie, count: count, measure: measure))
    }
}
