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
///
/// Within a block, ratings are grouped by user (users in a random order, each user's movies in
/// a random order), which keeps the user's vector in cache, and that sequence is then dealt
/// into ``streams`` interleaved streams. Consecutive updates of one user form a dependency chain
/// (each reads the vector the previous one wrote); interleaving puts independent users next to
/// each other so the processor overlaps their updates instead of waiting on one chain.
final class SGDBlocks {
    /// Interleaved user streams per block: enough independent chains to fill the out-of-order
    /// window at small k, few enough that their user vectors stay in L1.
    static let streams = 4

    let groups: Int
    /// Block `(ug, mg)` holds `entries[offsets[ug * groups + mg] ..< offsets[ug * groups + mg + 1]]`.
    let offsets: [Int]
    let entries: UnsafeMutablePointer<SGDEntry>
    let count: Int
    /// The mean training rating; entries hold ratings minus this.
    let mean: Float
    /// Training ratings per user and per movie.
    let userCounts: [Int32]
    let movieCounts: [Int32]

    /// Users and movies are spread over the groups by a snake draft on their rating counts, so
    /// blocks carry similar work. Built in linear time, the per-block work on `threads` threads
    /// (the layout depends on `seed` only, never on `threads`).
    init(_ ratings: RatingTriples, userCount: Int, movieCount: Int, groups requested: Int, seed: UInt64,
         threads: Int, streams: Int = SGDBlocks.streams) {
        let groups = max(1, requested)
        self.groups = groups
        let n = ratings.count
        count = n
        let (userCounts, movieCounts, mean) = Self.countsAndMean(ratings, userCount: userCount, movieCount: movieCount,
                                                                 threads: threads)
        self.mean = mean
        self.userCounts = userCounts
        self.movieCounts = movieCounts
        let userGroup = Self.balancedGroups(userCounts, groups: groups)
        let movieGroup = Self.balancedGroups(movieCounts, groups: groups)

        // A random position per user inside its group: the order of users inside each block.
        var rng = SeededRandom(seed: seed)
        var localRank = [Int32](repeating: 0, count: userCount)
        var groupSize = [Int](repeating: 0, count: groups)
        var users = Array(0..<userCount)
        rng.shuffle(&users)
        for u in users {
            let g = Int(userGroup[u])
            localRank[u] = Int32(groupSize[g])
            groupSize[g] += 1
        }

        let entries = LargeBuffer.allocate(SGDEntry.self, capacity: n)
        let offsets = Self.scatter(ratings, into: entries, mean: mean, userGroup: userGroup, movieGroup: movieGroup,
                                   groups: groups, threads: threads)
        self.offsets = offsets
        self.entries = entries

        // ...then each block on its own: users in order, each user's movies shuffled, dealt into
        // streams. Each block has its own generator, so the result does not depend on threads.
        let blockStart = offsets, groupSizes = groupSize, ranks = localRank
        let chunks = ParallelChunks(rowCount: groups * groups, chunkCount: groups * groups) {
            Double(offsets[$0 + 1] - offsets[$0])
        }
        let largest = (0..<(groups * groups)).map { offsets[$0 + 1] - offsets[$0] }.max() ?? 0
        let shared = SharedPointer(entries)
        let streams = max(1, streams)
        chunks.run(workers: threads) {
            BlockScratch(entries: largest, users: (groupSizes.max() ?? 0) + 1)
        } _: { scratch, _, blocks in
            for b in blocks {
                var rng = SeededRandom(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(b + 1))
                Self.arrange(block: shared.base + blockStart[b], count: blockStart[b + 1] - blockStart[b],
                             members: groupSizes[b / groups], rank: ranks, streams: streams,
                             scratch: scratch, random: &rng)
            }
        }
    }

    deinit { LargeBuffer.free(entries) }

    /// Copies the ratings (centred on `mean`) into `entries` grouped by block and returns the
    /// block offsets. The input is cut into one part per thread; each part is counted, then
    /// copied to its own slots of every block (part 0's ratings first), so the result is the
    /// sequential scatter's whatever the thread count.
    private static func scatter(_ ratings: RatingTriples, into entries: UnsafeMutablePointer<SGDEntry>, mean: Float,
                                userGroup: [UInt16], movieGroup: [UInt16], groups: Int, threads: Int) -> [Int] {
        let n = ratings.count, blockCount = groups * groups
        let parts = max(1, min(threads, n / 100_000 + 1))
        let cursors = UnsafeMutablePointer<Int>.allocate(capacity: parts * blockCount)
        defer { cursors.deallocate() }
        cursors.initialize(repeating: 0, count: parts * blockCount)
        let cursor = SharedPointer(cursors), out = SharedPointer(entries)
        return SharedTriples.with(ratings) { input in
            var offsets = [Int](repeating: 0, count: blockCount + 1)
            guard let input else { return offsets }
            SGDRun.parallel(parts, threads: threads) { part in
                let counts = cursor.base + part * blockCount
                for i in (n * part / parts) ..< (n * (part + 1) / parts) {
                    counts[Int(userGroup[Int(input.users[i])]) * groups + Int(movieGroup[Int(input.movies[i])])] += 1
                }
            }
            var running = 0
            for b in 0..<blockCount {
                offsets[b] = running
                for part in 0..<parts {
                    let count = cursors[part * blockCount + b]
                    cursors[part * blockCount + b] = running
                    running += count
                }
            }
            offsets[blockCount] = running
            SGDRun.parallel(parts, threads: threads) { part in
                let next = cursor.base + part * blockCount
                for i in (n * part / parts) ..< (n * (part + 1) / parts) {
                    let b = Int(userGroup[Int(input.users[i])]) * groups + Int(movieGroup[Int(input.movies[i])])
                    out.base[next[b]] = SGDEntry(user: input.users[i], movie: input.movies[i], residual: input.ratings[i] - mean)
                    next[b] += 1
                }
            }
            return offsets
        }
    }

    func range(userGroup: Int, movieGroup: Int) -> Range<Int> {
        let b = userGroup * groups + movieGroup
        return offsets[b] ..< offsets[b + 1]
    }

    /// Sorts one block by user position (a counting sort), shuffles each user's run, and deals
    /// the result into `streams` segments read in turn (entry j of segment s follows entry j of
    /// segments 0..<s).
    private static func arrange(block: UnsafeMutablePointer<SGDEntry>, count size: Int, members: Int, rank: [Int32],
                                streams: Int, scratch: BlockScratch, random rng: inout SeededRandom) {
        guard size > 0 else { return }
        let sorted = scratch.entries, start = scratch.starts
        rank.withUnsafeBufferPointer { rank in
            for r in 0...members { start[r] = 0 }
            for i in 0..<size { start[Int(rank[Int(block[i].user)]) + 1] += 1 }
            for r in 0..<members { start[r + 1] += start[r] }
            for i in 0..<size {
                let r = Int(rank[Int(block[i].user)])
                sorted[start[r]] = block[i]
                start[r] += 1
            }
        }
        // After the scatter, start[r] is where user r's run ends.
        var runStart = 0
        for r in 0..<members {
            let runEnd = start[r]
            if runEnd - runStart > 1 {
                for i in stride(from: runEnd - 1, to: runStart, by: -1) {
                    let j = runStart + rng.nextInt(below: i - runStart + 1)
                    let t = sorted[i]; sorted[i] = sorted[j]; sorted[j] = t
                }
            }
            runStart = runEnd
        }
        let length = (size + streams - 1) / streams
        var out = 0
        for j in 0..<length {
            for s in 0..<streams {
                let at = s * length + j
                guard at < size else { break }
                block[out] = sorted[at]
                out += 1
            }
        }
    }

    /// Ratings per user and per movie, and the mean rating, in one step: users and the sum on
    /// one thread, movies on the other (the same result on one thread).
    private static func countsAndMean(_ ratings: RatingTriples, userCount: Int, movieCount: Int, threads: Int)
        -> (users: [Int32], movies: [Int32], mean: Float) {
        var users = [Int32](repeating: 0, count: userCount), movies = [Int32](repeating: 0, count: movieCount)
        var total = 0.0
        users.withUnsafeMutableBufferPointer { u in
            movies.withUnsafeMutableBufferPointer { m in
                withUnsafeMutablePointer(to: &total) { t in
                    guard let ub = u.baseAddress, let mb = m.baseAddress else { return }
                    let userOut = SharedPointer(ub), movieOut = SharedPointer(mb), sum = SharedPointer(t)
                    SharedTriples.with(ratings) { input in
                        guard let input else { return }
                        SGDRun.parallel(2, threads: threads) { side in
                            if side == 0 {
                                var s = 0.0
                                for i in 0..<ratings.count {
                                    userOut.base[Int(input.users[i])] += 1
                                    s += Double(input.ratings[i])
                                }
                                sum.base.pointee = s
                            } else {
                                for i in 0..<ratings.count { movieOut.base[Int(input.movies[i])] += 1 }
                            }
                        }
                    }
                }
            }
        }
        return (users, movies, Float(total / Double(max(ratings.count, 1))))
    }

    /// Group of each row: rows sorted by activity (descending, ties by index) dealt in snake order.
    static func balancedGroups(_ activity: [Int32], groups: Int) -> [UInt16] {
        // One integer per row orders by (activity descending, index ascending): a plain sort of
        // integers, several times faster than a sort with a comparison closure.
        var keys = activity.enumerated().map { UInt64(UInt32(Int32.max - $0.element)) << 32 | UInt64($0.offset) }
        keys.sort()
        var group = [UInt16](repeating: 0, count: activity.count)
        for (rank, key) in keys.enumerated() {
            let round = rank / groups, slot = rank % groups
            group[Int(key & 0xFFFF_FFFF)] = UInt16(round % 2 == 0 ? slot : groups - 1 - slot)
        }
        return group
    }
}

/// Per-worker scratch for arranging blocks. `@unchecked Sendable`: each worker owns one.
private final class BlockScratch: @unchecked Sendable {
    let entries: UnsafeMutablePointer<SGDEntry>
    let starts: UnsafeMutablePointer<Int>

    init(entries: Int, users: Int) {
        self.entries = LargeBuffer.allocate(SGDEntry.self, capacity: entries)
        starts = .allocate(capacity: max(users, 1))
    }

    deinit {
        LargeBuffer.free(entries)
        starts.deallocate()
    }
}
