/// A parsed rating event: a rating, or the retraction of one when `rating` is nil.
package struct RatingEvent: Sendable, Equatable {
    package var userID: Int64
    package var movieID: Int64
    /// A multiple of 0.5 in [0.5, 5.0], or nil when the event retracts the rating.
    package var rating: Float?
    /// When the user rated (or retracted), in microseconds since the Unix epoch.
    package var timestampMicros: Int64

    package init(userID: Int64, movieID: Int64, rating: Float?, timestampMicros: Int64) {
        self.userID = userID
        self.movieID = movieID
        self.rating = rating
        self.timestampMicros = timestampMicros
    }

    package var isRetraction: Bool { rating == nil }
}
