import ArgumentParser
import Foundation
import Models

/// `latent recommend MODEL --user ID`: the top-N movies for a user.
struct RecommendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Top-N movies for a user from a saved model (rank, movie id, predicted rating, ranking score, title).",
        discussion: """
            The predicted rating is the model's prediction, clipped to its rating scale (0.5-5 for \
            MovieLens). The list is ordered by the unclipped ranking score, printed only where it \
            differs from the predicted rating, so movies predicted above the top of the scale still \
            rank in order. With --from-db or --ratings FILE the movies the user already rated are \
            left out; titles come from latent.movies (--from-db) or --movies FILE.
            """)

    @OptionGroup var query: ModelListOptions

    @Option(help: "The user id.")
    var user: Int64

    @OptionGroup var seen: SeenRatingsOptions

    func run() throws {
        let model = try FactorModel.load(from: query.modelPath)
        let list = try model.recommend(userID: user, count: query.count, excluding: try seen.ratedMovies(of: user))
        let u = try model.userIndex(of: user)
        let rows = try list.map { item in
            Recommendation(movieID: item.movieID, predictedRating: model.predict(user: u, movie: try model.movieIndex(of: item.movieID)),
                           rankingScore: item.score)
        }
        for line in Self.table(rows, titles: try seen.titles(of: list.map(\.movieID))) { print(line) }
    }

    /// One listed movie: the model's (clipped) prediction and the unclipped score that ranked it.
    struct Recommendation {
        var movieID: Int64
        var predictedRating: Float
        var rankingScore: Float
    }

    /// A header and one tab-separated line per movie, best first. The ranking score column is
    /// empty where it reads the same as the predicted rating (inside the scale).
    static func table(_ rows: [Recommendation], titles: [Int64: String]) -> [String] {
        var lines = ["rank\tmovie_id\tpredicted_rating\tranking_score\ttitle"]
        for (rank, row) in rows.enumerated() {
            let rating = String(format: "%.2f", Double(row.predictedRating))
            let score = abs(row.rankingScore - row.predictedRating) >= 0.005 ? MetricText.fixed(Double(row.rankingScore)) : ""
            lines.append("\(rank + 1)\t\(row.movieID)\t\(rating)\t\(score)\t\(titles[row.movieID] ?? "")")
        }
        return lines
    }
}
