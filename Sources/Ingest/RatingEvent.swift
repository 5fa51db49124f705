/// A parsed rating event: a rating, or the retraction of one when `rating` is nil.
public struct RatingEvent: Sendable, Equatable {
    public var userID: Int64
    public var movieID: Int64
    /// A multiple of 0.5 in [0.5, 5.0], or nil when the event retracts the rating.
    public var rating: Float?
    /// When the user rated (or retracted), in microseconds since the Unix epoch.
    public var timestampMicros: Int64

    public init(userID: Int64, movieID: Int64, rating: Float?, timestampMicros: Int64) {
        self.userID = userID
        self.movieID = movieID
        self.rating = rating
        self.timestampMicros = timestampMicros
    }

    public var isRetraction: Bool { rating == nil }
}
