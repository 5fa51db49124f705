import Foundation

/// The frame both networks (``NeuralEmbedder``, ``RatingMLP``) fit in: input checked before any
/// work, OpenBLAS on the configured threads, the run's parameters and duration recorded in the
/// model, and genre vectors (the means of their movies' vectors) for publishing.
enum NetworkFit {
    /// Checks the ratings against `users` and `movies`, runs `train` with OpenBLAS on `threads`
    /// and returns the model `makeModel` builds from the network and the run's parameters
    /// (`parameters`, what `train` reports and `trainingSeconds`), with genre vectors when
    /// `genres` has any.
    static func run<Network>(
        ratings: RatingTriples, users: IDIndex, movies: IDIndex, genres: GenreIncidence?,
        threads: Int, parameters: [String: String],
        train: () throws -> (Network, report: [String: String]),
        makeModel: (Network, _ parameters: [String: String]) throws -> FactorModel
    ) throws -> FactorModel {
        try checkIndices(ratings, userCount: users.count, movieCount: movies.count, movies: movies)
        let started = Date()
        return try BLAS.withThreadCount(threads) {
            let (network, report) = try train()
            var parameters = parameters.merging(report) { _, new in new }
            parameters["trainingSeconds"] = String(format: "%.3f", Date().timeIntervalSince(started))
            var model = try makeModel(network, parameters)
            if let genres, genres.genreCount > 0 {
                model.genreFactors = genreMeans(genres, movieFactors: model.movieFactors, k: model.k)
                model.genreNames = genres.names
            }
            return model
        }
    }

    /// Row-major `genres x k`: the mean vector of each genre's movies (zero for an empty genre).
    static func genreMeans(_ genres: GenreIncidence, movieFactors: [Float], k: Int) -> [Float] {
        var sums = [Float](repeating: 0, count: genres.genreCount * k)
        var counts = [Float](repeating: 0, count: genres.genreCount)
        for m in 0..<min(genres.movieCount, movieFactors.count / max(k, 1)) {
            for g in genres.genres(ofMovie: m).map(Int.init) {
                counts[g] += 1
                for f in 0..<k { sums[g * k + f] += movieFactors[m * k + f] }
            }
        }
        for g in 0..<genres.genreCount where counts[g] > 0 {
            for f in 0..<k { sums[g * k + f] /= counts[g] }
        }
        return sums
    }

    static func checkIndices(_ ratings: RatingTriples, userCount: Int, movieCount: Int, movies: IDIndex) throws {
        guard !ratings.isEmpty else { throw ModelError.emptyData("no ratings to train on") }
        for i in 0..<ratings.count {
            let u = ratings.users[i], m = ratings.movies[i]
            guard u >= 0, Int(u) < userCount, m >= 0, Int(m) < movieCount else {
                throw ModelError.emptyData("rating \(i) refers to user index \(u) / movie index \(m) outside the id indices")
            }
            guard ratings.ratings[i].isFinite else { throw ModelError.invalidRating(movieID: movies.ids[Int(m)], rating: ratings.ratings[i]) }
        }
    }
}
