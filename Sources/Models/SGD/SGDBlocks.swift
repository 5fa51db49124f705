/// One training rating as the SGD kernels read it: 12 bytes, the rating already centred on
/// the global mean.
struct SGDEntry {
    var user: Int32
    var movie: Int32
    var residual: Float
}

/// The training ratings cut into a `p x p` grid of blocks by user group and movie group
/// (DSGD-style stratification). The `p` blocks of one stratum `s` — blocks `(g, (g + s) % p)` —
/// share no user and no movie, so they are updated in parallel without locks, and the result
/// does not depend on which thread runs which block: training is deterministic for a seed.
/// Within a block, ratings are grouped by user (random user order, random movie order per
/// user), which keeps the user's vector in cache; only movie vectors are read at random.
final class SGDBlocks {
    let groups: Int
    /// Block `(ug, mg)` holds `entries[offsets[ug * groups + mg] ..< offsets[ug * groups + mg + 1]]`.
    let offsets: [Int]
    let entries: UnsafeMutablePointer<SGDEntry>
    let count: Int

    /// Users and movies are spread over the groups by a snake draft on their rating counts, so
    /// blocks carry similar work; each block's ratings are shuffled once with `seed`.
    init(_ ratings: RatingTriples, userCount: Int, movieCount: Int, mean: Float, groups requested: Int, seed: UInt64,
         userOrdered: Bool = true) {
        let groups = max(1, requested)
        self.groups = groups
        count = ratings.count
        let userGroup = Self.balancedGroups(ratings.users, count: userCount, groups: groups)
        let movieGroup = Self.balancedGroups(ratings.movies, count: movieCount, groups: groups)
        var offsets = [Int](repeating: 0, count: groups * groups + 1)
        let blockOf = [Int32](unsafeUninitializedCapacity: ratings.count) { buffer, initialized in
            for i in 0..<ratings.count {
                let b = Int32(userGroup[Int(ratings.users[i])]) * Int32(groups) + Int32(movieGroup[Int(ratings.movies[i])])
                buffer[i] = b
                offsets[Int(b) + 1] += 1
            }
            initialized = ratings.count
        }
        for b in 0..<(groups * groups) { offsets[b + 1] += offsets[b] }
        self.offsets = offsets
        entries = .allocate(capacity: max(ratings.count, 1))
        var next = offsets
        for i in 0..<ratings.count {
            let b = Int(blockOf[i])
            entries[next[b]] = SGDEntry(user: ratings.users[i], movie: ratings.movies[i], residual: ratings.ratings[i] - mean)
            next[b] += 1
        }
        var rng = SeededRandom(seed: seed)
        for b in 0..<(groups * groups) {
            let lo = offsets[b], n = offsets[b + 1] - lo
            guard n > 1 else { continue }
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = rng.nextInt(below: i + 1)
                let t = entries[lo + i]
                entries[lo + i] = entries[lo + j]
                entries[lo + j] = t
            }
        }
        if userOrdered {
            // Group each block's ratings by user (users in a random order, each user's movies in
            // the shuffled order): a user's vector then stays in cache for all their ratings.
            var rank = [UInt32](repeating: 0, count: userCount)
            var users = Array(0..<userCount)
            rng.shuffle(&users)
            for (r, u) in users.enumerated() { rank[u] = UInt32(r) }
            for b in 0..<(groups * groups) {
                let lo = offsets[b], n = offsets[b + 1] - lo
                guard n > 1 else { continue }
                let block = UnsafeMutableBufferPointer(start: entries + lo, count: n)
                var keyed = (0..<n).map { (UInt64(rank[Int(block[$0].user)]) << 32) | UInt64($0) }
                keyed.sort()
                let copy = Array(block)
                for (i, key) in keyed.enumerated() { block[i] = copy[Int(key & 0xFFFF_FFFF)] }
            }
        }
    }

    deinit { entries.deallocate() }

    func range(userGroup: Int, movieGroup: Int) -> Range<Int> {
        let b = userGroup * groups + movieGroup
        return offsets[b] ..< offsets[b + 1]
    }

    /// Group of each row: rows sorted by activity (descending, ties by index) dealt in snake order.
    static func balancedGroups(_ indices: [Int32], count: Int, groups: Int) -> [UInt16] {
        var activity = [Int32](repeating: 0, count: count)
        for i in indices { activity[Int(i)] += 1 }
        let order = (0..<count).sorted { activity[$0] != activity[$1] ? activity[$0] > activity[$1] : $0 < $1 }
        var group = [UInt16](repeating: 0, count: count)
        for (rank, row) in order.enumerated() {
            let round = rank / groups, slot = rank % groups
            group[row] = UInt16(round % 2 == 0 ? slot : groups - 1 - slot)
        }
        return group
    }
}
