import Records
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

    @Flag(help: "Also print ranking metrics (held-out ratings >= 4 are relevant) and the popularity baseline's.")
    var ranking = false

    @Option(help: ArgumentHelp("The training ratings, left out of each user's ranking (with --ranking).", valueName: "file"))
    var train: String?

    @Option(help: "Cut-off of the ranking metrics.")
    var at = 10

    func validate() throws {
        guard at >= 1 else { throw ValidationError("--at must be at least 1, got \(at)") }
        if ranking, train == nil {
            throw ValidationError("--ranking needs --train FILE: movies a user rated in training are never recommended")
        }
    }

    func run() throws {
        let model = try FactorModel.load(from: modelPath)
        var records: [RatingRecord] = []
        try MovieLens.forEachRating(in: ratings) { records.append($0) }
        guard !records.isEmpty else { throw CommandFailure("\(ratings) holds no ratings to score") }
        print(try Evaluation.errors(of: model, on: records))
        guard ranking, let train else { return }

        var trainRecords: [RatingRecord] = []
        try MovieLens.forEachRating(in: train) { trainRecords.append($0) }
        let trainTriples = Self.triples(trainRecords, in: model)
        let testTriples = Self.triples(records, in: model)
        print("model: \(try Evaluation.ranking(of: model, train: trainTriples, test: testTriples, k: at))")
        print("popularity: \(try Evaluation.popularityRanking(userCount: model.users.count, movieCount: model.movies.count, train: trainTriples, test: testTriples, k: at))")
    }

    /// The records whose user and movie the model knows, in its dense indices (a ranking can
    /// only be computed for those).
    static func triples(_ records: [RatingRecord], in model: FactorModel) -> RatingTriples {
        var triples = RatingTriples()
        for r in records {
            if let u = model.users[r.userID], let m = model.movies[r.movieID] {
                triples.append(user: u, movie: m, rating: r.rating, timestamp: r.timestamp)
            }
        }
        return triples
    }
}
