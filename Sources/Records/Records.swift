/// One rating as it appears in a file or an event, with external ids.
public struct RatingRecord: Sendable, Equatable {
    public var userID: Int64
    public var movieID: Int64
    public var rating: Float
    /// Epoch seconds.
    public var timestamp: Int64

    public init(userID: Int64, movieID: Int64, rating: Float, timestamp: Int64) {
        self.userID = userID
        self.movieID = movieID
        self.rating = rating
        self.timestamp = timestamp
    }
}

/// One catalogue entry with external id.
public struct MovieRecord: Sendable, Equatable {
    public var movieID: Int64
    public var title: String
    public var genres: [String]

    public init(movieID: Int64, title: String, genres: [String]) {
        self.movieID = movieID
        self.title = title
        self.genres = genres
    }
}
