/// The input of one mini-batch: for each row (a user), the movies that survived input dropout
/// and the weight each of them carries. Reused across batches: after the first batch, filling
/// it allocates nothing.
struct NeuralBatch: Sendable {
    /// Dense user index of each row.
    private(set) var users: [Int32] = []
    /// Row `r`'s input movies are `movies[offsets[r] ..< offsets[r + 1]]`.
    private(set) var offsets: [Int] = [0]
    private(set) var movies: [Int32] = []
    /// The value of every input movie of row `r`: `1/sqrt(n)` for a bag of `n` (L2
    /// normalisation), divided by the keep probability under dropout so the expected input
    /// is the undropped one (inverted dropout, as in Liang et al.'s code).
    private(set) var scales: [Float] = []

    var count: Int { users.count }

    init(capacity: Int) {
        users.reserveCapacity(capacity)
        offsets.reserveCapacity(capacity + 1)
        scales.reserveCapacity(capacity)
    }

    /// Fills the batch with `rows`' bags; with `dropout` > 0 each movie is kept with
    /// probability `1 - dropout`, drawn from `random` in row order (deterministic per seed).
    mutating func fill<Rows: Collection>(
        users rows: Rows, bags: LikedMovies, dropout: Float, random: inout SeededRandom
    ) where Rows.Element == Int32 {
        users.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        movies.removeAll(keepingCapacity: true)
        scales.removeAll(keepingCapacity: true)
        offsets.append(0)
        let keep = 1 - dropout
        let threshold = UInt64(Double(keep) * 0x1p53)
        for u in rows {
            let bag = bags.range(Int(u))
            users.append(u)
            if dropout > 0 {
                for p in bag where random.next() >> 11 < threshold { movies.append(bags.movies[p]) }
            } else {
                movies.append(contentsOf: bags.movies[bag])
            }
            offsets.append(movies.count)
            scales.append(bag.isEmpty ? 0 : 1 / (Float(bag.count).squareRoot() * keep))
        }
    }
}
