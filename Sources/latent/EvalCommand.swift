import ArgumentParser
import Models

/// `latent eval MODEL --ratings FILE`: error of a saved model on held-out ratings.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score the (user, movie, rating) rows of a file with a saved model.",
        discussion: """
            Prints one line: rmse=... mae=... n=... Rows whose user or movie the model never saw \
            are predicted from what is known (global mean, the known bias, a movie's genre prior) \
            and counted (unknown=..., known_rmse=...), never dropped.
            """)

    @Argument(help: ArgumentHelp("A model file written by latent train.", valueName: "model"))
    var modelPath: String

    @Option(help: ArgumentHelp("Held-out ratings in any MovieLens format.", valueName: "file"))
    var ratings: String

    func run() throws {
        let model = try FactorModel.load(from: modelPath)
        var records: [RatingRecord] = []
        try MovieLens.forEachRating(in: ratings) { records.append($0) }
        guard !records.isEmpty else { throw ValidationError("\(ratings) holds no ratings to score") }
        print(try Evaluation.errors(of: model, on: records))
    }
}
