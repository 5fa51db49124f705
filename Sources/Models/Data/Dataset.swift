/// A snapshot of ratings and movie metadata with dense indices: the one input every model
/// trains from, whether it was read from PostgreSQL or from MovieLens files.
package struct Dataset: Sendable {
    package var users: IDIndex
    /// Every known movie: rated ones and catalogue-only ones (cold-start items).
    package var movies: IDIndex
    package var ratings: RatingTriples
    /// Genres by dense movie index; `movieCount == movies.count`.
    package var genres: GenreIncidence
    /// Titles by dense movie index ("" when unknown).
    package var titles: [String]

    package init(users: IDIndex, movies: IDIndex, ratings: RatingTriples, genres: GenreIncidence, titles: [String]) {
        self.users = users
        self.movies = movies
        self.ratings = ratings
        self.genres = genres
        self.titles = titles
    }
}
