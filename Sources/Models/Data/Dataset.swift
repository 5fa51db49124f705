/// A snapshot of ratings and movie metadata with dense indices: the one input every model
/// trains from, whether it was read from PostgreSQL or from MovieLens files.
public struct Dataset: Sendable {
    public var users: IDIndex
    /// Every known movie: rated ones and catalogue-only ones (cold-start items).
    public var movies: IDIndex
    public var ratings: RatingTriples
    /// Genres by dense movie index; `movieCount == movies.count`.
    public var genres: GenreIncidence
    /// Titles by dense movie index ("" when unknown).
    public var titles: [String]

    public init(users: IDIndex, movies: IDIndex, ratings: RatingTriples, genres: GenreIncidence, titles: [String]) {
        self.users = users
        self.movies = movies
        self.ratings = ratings
        self.genres = genres
        self.titles = titles
    }
}
