import COpenBLAS
import Dispatch
import Foundation

/// How a block of users' scores over all movies is produced.
enum RankingScorer: Sendable {
    case factors(k: Int, userFactors: [Float], movieFactors: [Float], movieBias: [Float])
    /// The same scores for every user: no per-user scoring, each user's list is the global
    /// order with their rated movies skipped.
    case fixed([Float])
}

/// One ranking evaluation at several cut-offs. Users are processed in blocks, each block's
/// sums stored separately and added in block order, so the result does not depend on threads.
struct RankingEvaluator: Sendable {
    let movieCount: Int
    let cutoffs: [Int]
    /// The largest cut-off: the length of each user's top list.
    let depth: Int
    let threads: Int
    let train: UserLists
    let relevant: UserLists
    let evaluatedUsers: [Int32]

    init(
        userCount: Int, movieCount: Int, train: RatingTriples, test: RatingTriples, cutoffs: [Int], threshold: Float,
        sample: RankingSample, threads: Int
    ) throws {
        guard let deepest = cutoffs.max(), let shallowest = cutoffs.min(), shallowest >= 1 else {
            throw ModelError.invalidParameter(
                name: "k", value: cutoffs.map(String.init).joined(separator: ","), requirement: "one or more cut-offs, each at least 1")
        }
        if let limit = sample.maxUsers, limit < 1 {
            throw ModelError.invalidParameter(name: "maxUsers", value: "\(limit)", requirement: "at least 1")
        }
        self.movieCount = movieCount
        self.cutoffs = cutoffs
        self.depth = deepest
        self.threads = max(1, threads)
        self.train = UserLists(train, userCount: userCount, movieCount: movieCount) { _ in true }
        let relevant = UserLists(test, userCount: userCount, movieCount: movieCount) { test.ratings[$0] >= threshold }
        self.relevant = relevant
        let withRelevant = (0..<userCount).filter { !relevant.range($0).isEmpty }.map(Int32.init)
        evaluatedUsers = Self.sampled(withRelevant, sample)
    }

    /// At most `sample.maxUsers` of `users`, a partial Fisher-Yates shuffle by the seed, in
    /// index order again (blocks of neighbouring users keep their memory access local).
    private static func sampled(_ users: [Int32], _ sample: RankingSample) -> [Int32] {
        guard let limit = sample.maxUsers, limit < users.count else { return users }
        var pool = users
        var rng = SplitMix64(seed: sample.seed)
        for i in 0..<limit { pool.swapAt(i, i + Int(rng.next() % UInt64(pool.count - i))) }
        return pool[0..<limit].sorted()
    }

    func run(_ scorer: RankingScorer) -> [RankingMetrics] {
        let blockSize = 64
        let blockCount = (evaluatedUsers.count + blockSize - 1) / blockSize
        let results = RankingResults(count: blockCount)
        let workers = min(threads, max(blockCount, 1))
        let order = scorer.fixedOrder
        let previousThreads = openblas_get_num_threads()
        if workers > 1 { openblas_set_num_threads(1) }
        defer { if workers > 1 { openblas_set_num_threads(previousThreads) } }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var scratch = Scratch(blockSize: order == nil ? blockSize : 0, movieCount: movieCount, depth: depth)
            var block = w
            while block < blockCount {
                let users = evaluatedUsers[(block * blockSize) ..< min((block + 1) * blockSize, evaluatedUsers.count)]
                results.set(block, evaluate(users: users, scorer: scorer, order: order, scratch: &scratch))
                block += workers
            }
        }
        return summarise(results, blockCount: blockCount)
    }

    private func summarise(_ results: RankingResults, blockCount: Int) -> [RankingMetrics] {
        var totals = [Sums](repeating: Sums(), count: cutoffs.count)
        var firstRank = [Int](repeating: .max, count: movieCount)
        for b in 0..<blockCount {
            let r = results.get(b)
            for c in cutoffs.indices { totals[c].add(r.sums[c]) }
            for (movie, rank) in zip(r.recommended, r.ranks) { firstRank[Int(movie)] = min(firstRank[Int(movie)], Int(rank)) }
        }
        let n = Double(max(evaluatedUsers.count, 1))
        return cutoffs.enumerated().map { c, k in
            let covered = firstRank.lazy.filter { $0 < k }.count
            return RankingMetrics(
                k: k, precision: totals[c].precision / n, recall: totals[c].recall / n, ndcg: totals[c].ndcg / n,
                map: totals[c].map / n, coverage: movieCount == 0 ? 0 : Double(covered) / Double(movieCount),
                users: evaluatedUsers.count)
        }
    }

    struct Sums {
        var precision = 0.0, recall = 0.0, ndcg = 0.0, map = 0.0

        mutating func add(_ other: Sums) {
            precision += other.precision; recall += other.recall; ndcg += other.ndcg; map += other.map
        }
    }

    struct BlockResult {
        var sums: [Sums] = []
        /// Every listed movie with its 0-based rank (for coverage at each cut-off).
        var recommended: [Int32] = []
        var ranks: [Int16] = []
    }

    /// A worker's buffers, reused block after block.
    struct Scratch {
        var scores: [Float]
        var userBlock: [Float] = []
        var top: [Int32]
        var topScores: [Float]
        var isRelevant: [Bool]
        var isRated: [Bool]

        init(blockSize: Int, movieCount: Int, depth: Int) {
            scores = [Float](repeating: 0, count: blockSize * movieCount)
            top = [Int32](repeating: -1, count: depth)
            topScores = [Float](repeating: -.infinity, count: depth)
            isRelevant = [Bool](repeating: false, count: movieCount)
            isRated = [Bool](repeating: false, count: movieCount)
        }
    }

    private func evaluate(users: ArraySlice<Int32>, scorer: RankingScorer, order: [Int32]?, scratch: inout Scratch) -> BlockResult {
        if order == nil { score(users, scorer: scorer, scratch: &scratch) }
        var result = BlockResult(sums: Array(repeating: Sums(), count: cutoffs.count))
        result.recommended.reserveCapacity(users.count * depth)
        result.ranks.reserveCapacity(users.count * depth)
        for (i, u32) in users.enumerated() {
            let u = Int(u32)
            if let order {
                listFromOrder(order, user: u, scratch: &scratch)
            } else {
                listFromScores(row: i, user: u, scratch: &scratch)
            }
            accumulate(user: u, scratch: &scratch, into: &result)
        }
        return result
    }

    /// `scores[i, m] = b_m + p_u . q_m` for the block's users, one sgemm.
    private func score(_ users: ArraySlice<Int32>, scorer: RankingScorer, scratch: inout Scratch) {
        guard case let .factors(dim, userFactors, movieFactors, movieBias) = scorer else { return }
        let b = users.count, mc = movieCount
        for i in 0..<b { for m in 0..<mc { scratch.scores[i * mc + m] = movieBias[m] } }
        guard dim > 0 else { return }
        if scratch.userBlock.count < b * dim { scratch.userBlock = [Float](repeating: 0, count: b * dim) }
        for (i, u) in users.enumerated() {
            for f in 0..<dim { scratch.userBlock[i * dim + f] = userFactors[Int(u) * dim + f] }
        }
        scratch.userBlock.withUnsafeBufferPointer { a in
            movieFactors.withUnsafeBufferPointer { q in
                scratch.scores.withUnsafeMutableBufferPointer { c in
                    // C (b x movies) += A (b x k) Q^T.
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(b), Int32(mc), Int32(dim), 1,
                                a.baseAddress, Int32(dim), q.baseAddress, Int32(dim), 1, c.baseAddress, Int32(mc))
                }
            }
        }
    }

    /// The user's top `depth` of row `row` of the scores, by insertion into a short sorted
    /// list (ties keep the lower movie index first).
    private func listFromScores(row: Int, user u: Int, scratch: inout Scratch) {
        let base = row * movieCount
        for j in train.range(u) { scratch.scores[base + Int(train.movies[j])] = -.infinity }
        for j in 0..<depth { scratch.top[j] = -1; scratch.topScores[j] = -.infinity }
        for m in 0..<movieCount {
            let s = scratch.scores[base + m]
            guard s > scratch.topScores[depth - 1] else { continue }
            var p = depth - 1
            while p > 0 && scratch.topScores[p - 1] < s {
                scratch.topScores[p] = scratch.topScores[p - 1]; scratch.top[p] = scratch.top[p - 1]; p -= 1
            }
            scratch.topScores[p] = s; scratch.top[p] = Int32(m)
        }
    }

    /// The user's top `depth`: the global order with their rated movies skipped.
    private func listFromOrder(_ order: [Int32], user u: Int, scratch: inout Scratch) {
        for j in train.range(u) { scratch.isRated[Int(train.movies[j])] = true }
        var filled = 0
        for m in order where !scratch.isRated[Int(m)] {
            scratch.top[filled] = m
            filled += 1
            if filled == depth { break }
        }
        for j in filled..<depth { scratch.top[j] = -1 }
        for j in train.range(u) { scratch.isRated[Int(train.movies[j])] = false }
    }

    /// Adds the user's precision, recall, NDCG and AP at every cut-off.
    private func accumulate(user u: Int, scratch: inout Scratch, into result: inout BlockResult) {
        let relevantRange = relevant.range(u)
        for j in relevantRange { scratch.isRelevant[Int(relevant.movies[j])] = true }
        for (c, k) in cutoffs.enumerated() {
            var hits = 0, dcg = 0.0, ap = 0.0, idcg = 0.0
            for r in 0..<k where scratch.top[r] >= 0 && scratch.isRelevant[Int(scratch.top[r])] {
                hits += 1
                dcg += 1 / log2(Double(r + 2))
                ap += Double(hits) / Double(r + 1)
            }
            for r in 0..<min(relevantRange.count, k) { idcg += 1 / log2(Double(r + 2)) }
            result.sums[c].precision += Double(hits) / Double(k)
            result.sums[c].recall += Double(hits) / Double(relevantRange.count)
            result.sums[c].ndcg += idcg > 0 ? dcg / idcg : 0
            result.sums[c].map += ap / Double(min(relevantRange.count, k))
        }
        for j in relevantRange { scratch.isRelevant[Int(relevant.movies[j])] = false }
        for r in 0..<depth where scratch.top[r] >= 0 {
            result.recommended.append(scratch.top[r])
            result.ranks.append(Int16(clamping: r))
        }
    }
}

extension RankingScorer {
    /// For `.fixed`: movies by descending score, ties by index (the order a per-user
    /// selection over the same scores would give).
    var fixedOrder: [Int32]? {
        guard case .fixed(let values) = self else { return nil }
        return values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.map(Int32.init)
    }
}

/// Each user's movies from (user, movie) rows, compressed by user; rows outside the index
/// range or rejected by `keep` are left out.
struct UserLists: Sendable {
    let offsets: [Int]
    let movies: [Int32]

    init(_ t: RatingTriples, userCount: Int, movieCount: Int, keep: (Int) -> Bool) {
        func valid(_ i: Int) -> Bool {
            t.users[i] >= 0 && Int(t.users[i]) < userCount && t.movies[i] >= 0 && Int(t.movies[i]) < movieCount && keep(i)
        }
        var offsets = [Int](repeating: 0, count: userCount + 1)
        for i in 0..<t.count where valid(i) { offsets[Int(t.users[i]) + 1] += 1 }
        for u in 0..<userCount { offsets[u + 1] += offsets[u] }
        var next = offsets
        var movies = [Int32](repeating: 0, count: offsets[userCount])
        for i in 0..<t.count where valid(i) {
            let u = Int(t.users[i])
            movies[next[u]] = t.movies[i]
            next[u] += 1
        }
        self.offsets = offsets
        self.movies = movies
    }

    func range(_ user: Int) -> Range<Int> { offsets[user] ..< offsets[user + 1] }
}

/// Per-block results written by parallel workers. `@unchecked Sendable`: guarded by a lock.
private final class RankingResults: @unchecked Sendable {
    private var slots: [RankingEvaluator.BlockResult]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: .init(), count: count) }
    func set(_ i: Int, _ r: RankingEvaluator.BlockResult) { lock.lock(); slots[i] = r; lock.unlock() }
    func get(_ i: Int) -> RankingEvaluator.BlockResult { lock.lock(); defer { lock.unlock() }; return slots[i] }
}
