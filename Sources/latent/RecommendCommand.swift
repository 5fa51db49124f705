import ArgumentParser
import Models

/// `latent recommend MODEL --user ID`: the top-N movies for a user.
struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Top-N movies for a user from a saved model (rank, movie id, predicted score, title).")

    @Argument(help: ArgumentHelp("A model file written by latent train.", valueName: "model"))
    var modelPath: String

    @Option(help: "The user id.")
    var user: Int64

    @Option(help: "How many movies.")
    var count = 10

    @OptionGroup var seen: SeenRatingsOptions

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
    }

    func run() throws {
        let model = try FactorModel.load(from: modelPath)
        let list = try model.recommend(userID: user, count: count, excluding: try seen.ratedMovies(of: user))
        try seen.printList(list)
    }
}
