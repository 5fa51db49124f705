import ArgumentParser
import Models
import Pipeline

/// What a user has already rated, so recommendations can leave it out, and the titles to
/// print: from PostgreSQL or from MovieLens files.
struct SeenRatingsOptions: ParsableArguments {
    @OptionGroup var source: DataSourceOptions

    /// Movie ids `userID` rated.
    func ratedMovies(of userID: Int64) throws -> Set<Int64> {
        if source.fromDatabase {
            let result = try source.database.connect().query(
                "select movie_id from latent.ratings where user_id = $1::bigint", [String(userID)])
            return Set((0..<result.rowCount).compactMap { result[$0, 0].flatMap(Int64.init) })
        }
        guard let ratings = source.ratings else { return [] }
        var seen = Set<Int64>()
        try MovieLens.forEachRating(in: ratings) { if $0.userID == userID { seen.insert($0.movieID) } }
        return seen
    }

    /// Titles of `movieIDs` when a source is given.
    func titles(of movieIDs: [Int64]) throws -> [Int64: String] {
        if source.fromDatabase {
            let list = "{" + movieIDs.map(String.init).joined(separator: ",") + "}"
            let result = try source.database.connect().query(
                "select movie_id, title from latent.movies where movie_id = any($1::bigint[])", [list])
            var titles: [Int64: String] = [:]
            for row in 0..<result.rowCount {
                if let id = result[row, 0].flatMap(Int64.init), let title = result[row, 1] { titles[id] = title }
            }
            return titles
        }
        guard let movies = source.movies else { return [:] }
        let wanted = Set(movieIDs)
        var titles: [Int64: String] = [:]
        for movie in try MovieLens.readMovies(in: movies) where wanted.contains(movie.movieID) {
            titles[movie.movieID] = movie.title
        }
        return titles
    }

    /// Prints `rank movie_id score title` lines.
    func printList(_ list: [(movieID: Int64, score: Float)]) throws {
        let titles = try titles(of: list.map(\.movieID))
        for (rank, item) in list.enumerated() {
            let title = titles[item.movieID].map { "  \($0)" } ?? ""
            print("\(rank + 1)\t\(item.movieID)\t\(MetricText.fixed(Double(item.score)))\(title)")
        }
    }
}
