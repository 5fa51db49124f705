/// The training ratings in both compressed orientations: CSR by user and CSC by movie.
///
/// Built once per training run from ``RatingTriples``; models read rows (a user's movies and
/// ratings) and columns (a movie's users and ratings) as contiguous slices.
package struct SparseRatings: Sendable {
    package let userCount: Int
    package let movieCount: Int

    /// CSR: the ratings of user `u` are at `userOffsets[u] ..< userOffsets[u + 1]`.
    package let userOffsets: [Int]
    package let userMovies: [Int32]
    package let userRatings: [Float]

    /// CSC: the ratings of movie `m` are at `movieOffsets[m] ..< movieOffsets[m + 1]`.
    package let movieOffsets: [Int]
    package let movieUsers: [Int32]
    package let movieRatings: [Float]

    package var count: Int { userRatings.count }

    /// Builds both orientations with a counting sort (O(n), no per-row allocation).
    /// Indices must lie in `0..<userCount` and `0..<movieCount`.
    package init(_ triples: RatingTriples, userCount: Int, movieCount: Int) {
        self.userCount = userCount
        self.movieCount = movieCount
        (userOffsets, userMovies, userRatings) = Self.compress(
            rows: triples.users, columns: triples.movies, values: triples.ratings, rowCount: userCount)
        (movieOffsets, movieUsers, movieRatings) = Self.compress(
            rows: triples.movies, columns: triples.users, values: triples.ratings, rowCount: movieCount)
    }

    package func userRange(_ u: Int) -> Range<Int> { userOffsets[u] ..< userOffsets[u + 1] }
    package func movieRange(_ m: Int) -> Range<Int> { movieOffsets[m] ..< movieOffsets[m + 1] }

    private static func compress(
        rows: [Int32], columns: [Int32], values: [Float], rowCount: Int
    ) -> ([Int], [Int32], [Float]) {
        var offsets = [Int](repeating: 0, count: rowCount + 1)
        for r in rows { offsets[Int(r) + 1] += 1 }
        for i in 0..<rowCount { offsets[i + 1] += offsets[i] }
        var next = offsets
        var outColumns = [Int32](repeating: 0, count: rows.count)
        var outValues = [Float](repeating: 0, count: rows.count)
        for i in rows.indices {
            let r = Int(rows[i])
            let slot = next[r]
            next[r] = slot + 1
            outColumns[slot] = columns[i]
            outValues[slot] = values[i]
        }
        return (offsets, outColumns, outValues)
    }
}
