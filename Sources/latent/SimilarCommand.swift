import ArgumentParser
import Models

extension SimilarityMeasure: ExpressibleByArgument {}

/// `latent similar MODEL --movie ID`: the nearest movies in the model's latent space.
struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Movies nearest to a movie by cosine or dot product of their vectors.",
        discussion: "Titles come from latent.movies (--from-db) or --movies FILE.")

    @OptionGroup var query: ModelListOptions

    @Option(help: "The movie id.")
    var movie: Int64

    @Option(help: "cosine (direction only) or dot (also rewards popular movies, whose vectors are long).")
    var measure: SimilarityMeasure = .cosine

    @OptionGroup var seen: SeenRatingsOptions

    func run() throws {
        let model = try FactorModel.load(from: query.modelPath)
        try seen.printList(try model.similar(movieID: movie, count: query.count, measure: measure))
    }
}
