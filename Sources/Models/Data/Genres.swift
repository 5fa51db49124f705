/// Which genres each movie has: an incidence list in CSR form over dense movie indices.
package struct GenreIncidence: Sendable, Equatable {
    /// Genre names by dense genre index.
    package private(set) var names: [String] = []
    private var positions: [String: Int32] = [:]
    /// Genres of movie `m` are `genres[offsets[m] ..< offsets[m + 1]]`.
    package private(set) var offsets: [Int] = [0]
    package private(set) var genres: [Int32] = []

    package init() {}

    package var genreCount: Int { names.count }
    /// Number of movies described (dense indices `0..<movieCount`).
    package var movieCount: Int { offsets.count - 1 }

    package func genres(ofMovie m: Int) -> ArraySlice<Int32> {
        guard m < movieCount else { return [] }
        return genres[offsets[m] ..< offsets[m + 1]]
    }

    /// Appends the genre list of the next movie (dense index `movieCount`).
    /// "(no genres listed)" and empty names mean no genre.
    package mutating func appendMovie(genres names: [String]) {
        var seen = Set<Int32>()
        for name in names where !name.isEmpty && name != "(no genres listed)" {
            let g: Int32
            if let p = positions[name] {
                g = p
            } else {
                g = Int32(self.names.count)
                self.names.append(name)
                positions[name] = g
            }
            if seen.insert(g).inserted { genres.append(g) }
        }
        offsets.append(genres.count)
    }

    /// Pads with genre-less movies up to `count` movies.
    package mutating func extend(toMovieCount count: Int) {
        while movieCount < count { appendMovie(genres: []) }
    }
}
