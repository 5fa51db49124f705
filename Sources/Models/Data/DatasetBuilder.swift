import Records

/// Accumulates ratings and catalogue entries with external ids into a ``Dataset``.
///
/// Dense indices follow first appearance. Movies seen only in the catalogue are kept (with
/// their genres and titles); movies seen only in ratings get no genres and an empty title.
public struct DatasetBuilder: Sendable {
    public private(set) var users = IDIndex()
    public private(set) var movies = IDIndex()
    public private(set) var ratings = RatingTriples()
    private var movieGenres: [[String]] = []
    private var movieTitles: [String] = []
    // Ratings files are usually grouped by user: remember the last lookup.
    private var lastUserID: Int64 = .min
    private var lastUser: Int32 = 0
    // Movie ids are small integers in MovieLens: a direct table avoids a hash lookup per rating.
    private var movieSlots: [Int32] = []
    private static let directLimit: Int64 = 1 << 22

    public init() {}

    public mutating func reserveCapacity(ratings n: Int) { ratings.reserveCapacity(n) }

    /// Adds (or replaces) a catalogue entry.
    public mutating func add(_ movie: MovieRecord) {
        let m = Int(movieIndex(movie.movieID))
        padMovies(to: m + 1)
        movieGenres[m] = movie.genres
        movieTitles[m] = movie.title
    }

    public mutating func add(_ rating: RatingRecord) {
        let u: Int32
        if rating.userID == lastUserID {
            u = lastUser
        } else {
            u = users.insert(rating.userID)
            lastUserID = rating.userID
            lastUser = u
        }
        let m = movieIndex(rating.movieID)
        ratings.append(user: u, movie: m, rating: rating.rating, timestamp: rating.timestamp)
    }

    private mutating func movieIndex(_ id: Int64) -> Int32 {
        guard id >= 0, id < Self.directLimit else { return movies.insert(id) }
        let slot = Int(id)
        if slot < movieSlots.count, movieSlots[slot] >= 0 { return movieSlots[slot] }
        let m = movies.insert(id)
        if slot >= movieSlots.count {
            movieSlots.append(contentsOf: repeatElement(-1, count: max(slot + 1, movieSlots.count * 2) - movieSlots.count))
        }
        movieSlots[slot] = m
        return m
    }

    private mutating func padMovies(to count: Int) {
        while movieGenres.count < count {
            movieGenres.append([])
            movieTitles.append("")
        }
    }

    public func build() -> Dataset {
        var genres = GenreIncidence()
        for g in movieGenres { genres.appendMovie(genres: g) }
        genres.extend(toMovieCount: movies.count)
        var titles = movieTitles
        while titles.count < movies.count { titles.append("") }
        return Dataset(users: users, movies: movies, ratings: ratings, genres: genres, titles: titles)
    }
}
