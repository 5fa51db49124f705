import Records
import ArgumentParser
import Models

/// `latent eval MODEL --ratings FILE`: error of a saved model on held-out ratings, and with
/// `--ranking` the quality of its lists at one or more cut-offs next to popularity's.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score the (user, movie, rating) rows of a file with a saved model.",
        discussion: """
            For a rating model (baseline, mf, als) the first line is rmse=... mae=... n=... Rows \
            whose user or movie the model never saw are predicted from what is known (global mean, \
            the known bias, a movie's genre prior) and counted (unknown=..., known_rmse=...), never \
            dropped. Popularity and neural models rank movies and predict no ratings: they need \
            --ranking. With --ranking --train FILE, held-out ratings >= 4 are relevant, movies a user \
            rated in training are never listed, and each cut-off of --at gets a line for the model \
            and one for the popularity baseline (most training ratings first): precision, recall, \
            NDCG, MAP and coverage, every cut-off from one scoring pass.
            """)

    /// Cut-offs above this are refused: a list that long is no top-N list, and the evaluator
    /// keeps ranks in 16 bits.
    static let deepestCutoff = 10_000

    @Argument(help: ArgumentHelp("A model file written by latent train.", valueName: "model"))
    var modelPath: String

    @Option(help: ArgumentHelp("Held-out ratings in any MovieLens format.", valueName: "file"))
    var ratings: String

    @Flag(help: "Also print ranking metrics (held-out ratings >= 4 are relevant) and the popularity baseline's.")
    var ranking = false

    @Option(help: ArgumentHelp("The training ratings, left out of each user's ranking (with --ranking).", valueName: "file"))
    var train: String?

    @Option(help: ArgumentHelp("Cut-offs of the ranking metrics, comma-separated (default 10).", valueName: "k,k,..."))
    var at: String?

    func validate() throws {
        if let at {
            guard ranking else { throw ValidationError("--at goes with --ranking") }
            _ = try Self.cutoffs(at)
        }
        if ranking, train == nil {
            throw ValidationError("--ranking needs --train FILE: movies a user rated in training are never recommended")
        }
    }

    /// `"10,20"` as ascending distinct cut-offs, each in `1...deepestCutoff`.
    static func cutoffs(_ text: String) throws -> [Int] {
        let values = try ExperimentArguments.integers(text, name: "--at", minimum: 1)
        if let deep = values.first(where: { $0 > deepestCutoff }) {
            throw ValidationError("--at: \(deep) is above the deepest cut-off, \(deepestCutoff)")
        }
        return Array(Set(values)).sorted()
    }

    func run() throws {
        let model = try FactorModel.load(from: modelPath)
        let records = try Self.records(in: ratings)
        guard !records.isEmpty else { throw CommandFailure("\(ratings) holds no ratings to score") }
        if model.kind.defaultConfiguration.predictsRatings {
            print(try Evaluation.errors(of: model, on: records))
        } else if !ranking {
            throw CommandFailure("\(modelPath) is a \(model.kind.rawValue) model: it ranks movies and predicts no ratings; pass --ranking --train FILE")
        }
        guard ranking, let train else { return }

        let cutoffs = try at.map(Self.cutoffs) ?? [10]
        let trainTriples = Self.triples(try Self.records(in: train), in: model)
        let testTriples = Self.triples(records, in: model)
        let lists = try Evaluation.ranking(of: model, train: trainTriples, test: testTriples, cutoffs: cutoffs)
        guard let evaluated = lists.first?.users, evaluated > 0 else {
            throw CommandFailure("\(ratings) has no rating >= 4 by a user of \(modelPath) for a movie it knows: there is no list to measure")
        }
        let popular = try Evaluation.popularityRanking(
            userCount: model.users.count, movieCount: model.movies.count, train: trainTriples, test: testTriples, cutoffs: cutoffs)
        for metrics in lists { print("model: \(metrics)") }
        for metrics in popular { print("popularity: \(metrics)") }
    }

    static func records(in path: String) throws -> [RatingRecord] {
        var records: [RatingRecord] = []
        try MovieLens.forEachRating(in: path) { records.append($0) }
        return records
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
