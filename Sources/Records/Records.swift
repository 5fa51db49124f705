/// One rating as it appears in a file or an event, with external ids.
package struct RatingRecord: Sendable, Equatable {
    package var userID: Int64
    package var movieID: Int64
    package var rating: Float
    /// Epoch seconds.
    package var timestamp: Int64

    package init(userID: Int64, movieID: Int64, rating: Float, timestamp: Int64) {
        self.userID = userID
        self.movieID = movieID
        self.rating = rating
        self.timestamp = timestamp
    }
}

/// One catalogue entry with external id.
package struct MovieRecord: Sendable, Equatable {
    package var movieID: Int64
    package var title: String
    package var genres: [String]

    package init(movieID: Int64, title: String, genres: [String]) {
        self.movieID = movieID
        self.title = title
        self.genres = genres
    }
}
