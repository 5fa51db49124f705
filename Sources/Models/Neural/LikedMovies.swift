/// Each user's bag for the neural embedder, CSR by dense user index: the movies they rated at
/// or above a threshold. It is both the network's input and the softmax's target.
struct LikedMovies: Sendable {
    /// The bag of user `u` is `movies[offsets[u] ..< offsets[u + 1]]`, ascending by rating order.
    let offsets: [Int]
    let movies: [Int32]

    var userCount: Int { offsets.count - 1 }

    init(_ ratings: RatingTriples, userCount: Int, movieCount: Int, threshold: Float) {
        let sparse = SparseRatings(ratings, userCount: userCount, movieCount: movieCount)
        var offsets = [0]
        offsets.reserveCapacity(userCount + 1)
        var movies: [Int32] = []
        movies.reserveCapacity(sparse.count)
        for u in 0..<userCount {
            for p in sparse.userRange(u) where sparse.userRatings[p] >= threshold { movies.append(sparse.userMovies[p]) }
            offsets.append(movies.count)
        }
        self.offsets = offsets
        self.movies = movies
    }

    /// Bags given directly (tests).
    init(bags: [[Int32]]) {
        var offsets = [0]
        for bag in bags { offsets.append(offsets[offsets.count - 1] + bag.count) }
        self.offsets = offsets
        movies = bags.flatMap { $0 }
    }

    func range(_ u: Int) -> Range<Int> { offsets[u] ..< offsets[u + 1] }

    /// Users with a non-empty bag: the ones training can learn from.
    var usersWithBags: [Int32] {
        (0..<userCount).filter { offsets[$0 + 1] > offsets[$0] }.map { Int32($0) }
    }

    /// Runs `body(r, bag)` for every row `r` of a batch whose users are `users`, with that
    /// user's bag, rows in parallel on `threads` workers over fixed row ranges.
    func forEachBag(of users: [Int32], threads: Int, _ body: @Sendable (Int, UnsafeBufferPointer<Int32>) -> Void) {
        let offsets = self.offsets, movies = self.movies
        let chunks = ParallelChunks(rowCount: users.count, chunkCount: threads * 4) { _ in 1 }
        chunks.run(workers: threads, makeScratch: {}) { _, _, range in
            movies.withUnsafeBufferPointer { all in
                for r in range {
                    let u = Int(users[r])
                    body(r, UnsafeBufferPointer(rebasing: all[offsets[u] ..< offsets[u + 1]]))
                }
            }
        }
    }
}
