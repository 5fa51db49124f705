/// Ratings as parallel arrays of (user index, movie index, rating, timestamp): the coordinate
/// form that splits and evaluation work on. Indices refer to a ``Dataset``'s id indices.
package struct RatingTriples: Sendable, Equatable {
    package var users: [Int32] = []
    package var movies: [Int32] = []
    package var ratings: [Float] = []
    /// Epoch seconds.
    package var timestamps: [Int64] = []

    package init() {}

    package var count: Int { ratings.count }
    package var isEmpty: Bool { ratings.isEmpty }

    package mutating func reserveCapacity(_ n: Int) {
        users.reserveCapacity(n)
        movies.reserveCapacity(n)
        ratings.reserveCapacity(n)
        timestamps.reserveCapacity(n)
    }

    package mutating func append(user: Int32, movie: Int32, rating: Float, timestamp: Int64) {
        users.append(user)
        movies.append(movie)
        ratings.append(rating)
        timestamps.append(timestamp)
    }

    /// The triples at `positions`, in that order.
    package func subset<Positions: Collection>(_ positions: Positions) -> RatingTriples where Positions.Element == Int {
        var out = RatingTriples()
        out.reserveCapacity(positions.count)
        for p in positions {
            out.append(user: users[p], movie: movies[p], rating: ratings[p], timestamp: timestamps[p])
        }
        return out
    }

    /// Mean rating, or nil when empty.
    package var mean: Float? {
        guard !ratings.isEmpty else { return nil }
        var sum = 0.0
        for r in ratings { sum += Double(r) }
        return Float(sum / Double(ratings.count))
    }
}
