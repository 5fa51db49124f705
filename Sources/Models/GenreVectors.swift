/// One vector per genre in a model's latent space, for publishing and for "which genres suit
/// this user" queries.
package struct GenreVectors: Sendable, Equatable {
    /// Where the vectors come from.
    package enum Source: String, Sendable {
        /// Learned by the model (ALS with genre features).
        case learned
        /// The mean of the vectors of the genre's movies.
        case centroid
    }

    package var names: [String]
    /// Row-major `names.count x k`.
    package var vectors: [Float]
    package var k: Int
    package var source: Source

    package func vector(_ g: Int) -> ArraySlice<Float> { vectors[(g * k) ..< ((g + 1) * k)] }
}

extension FactorModel {
    /// The model's genre vectors: the learned ones when it has them, otherwise the centroid of
    /// each genre's movies (genres without movies get a zero vector). Empty for `k == 0`.
    package func genreVectors(genres: GenreIncidence) -> GenreVectors {
        if !genreFactors.isEmpty, !genreNames.isEmpty {
            return GenreVectors(names: genreNames, vectors: genreFactors, k: k, source: .learned)
        }
        let g = genres.genreCount
        var sums = [Float](repeating: 0, count: g * k)
        var counts = [Float](repeating: 0, count: g)
        if k > 0 {
            for m in 0..<min(movies.count, genres.movieCount) {
                for genre in genres.genres(ofMovie: m) {
                    let gi = Int(genre)
                    counts[gi] += 1
                    for d in 0..<k { sums[gi * k + d] += movieFactors[m * k + d] }
                }
            }
            for gi in 0..<g where counts[gi] > 0 {
                for d in 0..<k { sums[gi * k + d] /= counts[gi] }
            }
        }
        return GenreVectors(names: k > 0 ? genres.names : [], vectors: k > 0 ? sums : [], k: k, source: .centroid)
    }
}
