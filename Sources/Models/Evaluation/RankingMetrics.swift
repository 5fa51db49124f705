import COpenBLAS
import Dispatch
import Foundation

/// Top-k recommendation quality on held-out ratings: a held-out rating at or above the
/// relevance threshold (4 stars by default) is a relevant item; movies the user rated in
/// training are never recommended. Averages are over users with at least one relevant
/// held-out item.
public struct RankingMetrics: Sendable, Equatable, CustomStringConvertible {
    public var k: Int
    public var precision: Double
    public var recall: Double
    public var ndcg: Double
    /// Mean average precision at k, normalised by `min(relevant, k)`.
    public var map: Double
    /// Distinct movies recommended to anyone, over all movies.
    public var coverage: Double
    /// Users evaluated.
    public var users: Int

    public var description: String {
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return "precision@\(k)=\(f(precision)) recall@\(k)=\(f(recall)) ndcg@\(k)=\(f(ndcg)) map@\(k)=\(f(map)) "
            + "coverage=\(f(coverage)) users=\(users)"
    }
}

extension Evaluation {
    /// Ranking metrics of `model`: every movie is scored for every evaluated user
    /// (`b_i + p_u . q_i`, one sgemm per block of users), rated-in-training movies excluded.
    /// `train` and `test` use the model's dense indices.
    public static func ranking(
        of model: FactorModel, train: RatingTriples, test: RatingTriples, k: Int = 10,
        relevanceThreshold: Float = 4, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> RankingMetrics {
        guard k >= 1 else { throw ModelError.invalidParameter(name: "k", value: "\(k)", requirement: "at least 1") }
        let scorer = RankingScorer.factors(
            k: model.k, userFactors: model.userFactors, movieFactors: model.movieFactors, movieBias: model.movieBias)
        return RankingEvaluator(
            userCount: model.users.count, movieCount: model.movies.count, train: train, test: test, k: k,
            threshold: relevanceThreshold, threads: threads
        ).run(scorer)
    }

    /// The same metrics for the popularity recommender: every user gets the movies with the
    /// most training ratings that they have not rated. The reference any model must beat.
    public static func popularityRanking(
        userCount: Int, movieCount: Int, train: RatingTriples, test: RatingTriples, k: Int = 10,
        relevanceThreshold: Float = 4, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) throws -> RankingMetrics {
        guard k >= 1 else { throw ModelError.invalidParameter(name: "k", value: "\(k)", requirement: "at least 1") }
        var popularity = [Float](repeating: 0, count: movieCount)
        for m in train.movies where Int(m) < movieCount { popularity[Int(m)] += 1 }
        return RankingEvaluator(
            userCount: userCount, movieCount: movieCount, train: train, test: test, k: k,
            threshold: relevanceThreshold, threads: threads
        ).run(.fixed(popularity))
    }
}

/// How a block of users' scores over all movies is produced.
enum RankingScorer: Sendable {
    case factors(k: Int, userFactors: [Float], movieFactors: [Float], movieBias: [Float])
    /// The same scores for every user.
    case fixed([Float])
}

/// Shared state of one ranking evaluation; users are processed in blocks, each block's sums
/// stored separately and added in block order, so the result does not depend on threads.
struct RankingEvaluator: Sendable {
    let userCount: Int
    let movieCount: Int
    let trainOffsets: [Int]
    let trainMovies: [Int32]
    let relevantOffsets: [Int]
    let relevantMovies: [Int32]
    let k: Int
    let threads: Int
    let evaluatedUsers: [Int32]

    init(userCount: Int, movieCount: Int, train: RatingTriples, test: RatingTriples, k: Int, threshold: Float, threads: Int) {
        self.userCount = userCount
        self.movieCount = movieCount
        self.k = k
        self.threads = max(1, threads)
        func csr(_ t: RatingTriples, keep: (Int) -> Bool) -> ([Int], [Int32]) {
            var offsets = [Int](repeating: 0, count: userCount + 1)
            for i in 0..<t.count where keep(i) { offsets[Int(t.users[i]) + 1] += 1 }
            for u in 0..<userCount { offsets[u + 1] += offsets[u] }
            var next = offsets
            var items = [Int32](repeating: 0, count: offsets[userCount])
            for i in 0..<t.count where keep(i) {
                let u = Int(t.users[i])
                items[next[u]] = t.movies[i]
                next[u] += 1
            }
            return (offsets, items)
        }
        let inRange = { (t: RatingTriples, i: Int) -> Bool in
            t.users[i] >= 0 && Int(t.users[i]) < userCount && t.movies[i] >= 0 && Int(t.movies[i]) < movieCount
        }
        (trainOffsets, trainMovies) = csr(train) { inRange(train, $0) }
        (relevantOffsets, relevantMovies) = csr(test) { inRange(test, $0) && test.ratings[$0] >= threshold }
        var evaluated: [Int32] = []
        for u in 0..<userCount where relevantOffsets[u + 1] > relevantOffsets[u] { evaluated.append(Int32(u)) }
        evaluatedUsers = evaluated
    }

    struct BlockResult {
        var precision = 0.0, recall = 0.0, ndcg = 0.0, map = 0.0
        var recommended: [Int32] = []
    }

    func run(_ scorer: RankingScorer) -> RankingMetrics {
        let blockSize = 64
        let blockCount = (evaluatedUsers.count + blockSize - 1) / blockSize
        let results = RankingResults(count: blockCount)
        let workers = min(threads, max(blockCount, 1))
        let previousThreads = openblas_get_num_threads()
        if workers > 1 { openblas_set_num_threads(1) }
        defer { if workers > 1 { openblas_set_num_threads(previousThreads) } }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var scores = [Float](repeating: 0, count: blockSize * movieCount)
            var block = w
            while block < blockCount {
                let users = Array(evaluatedUsers[(block * blockSize) ..< min((block + 1) * blockSize, evaluatedUsers.count)])
                results.set(block, evaluate(users: users, scorer: scorer, scores: &scores))
                block += workers
            }
        }
        var total = BlockResult()
        var covered = [Bool](repeating: false, count: movieCount)
        for b in 0..<blockCount {
            let r = results.get(b)
            total.precision += r.precision; total.recall += r.recall; total.ndcg += r.ndcg; total.map += r.map
            for m in r.recommended { covered[Int(m)] = true }
        }
        let n = Double(max(evaluatedUsers.count, 1))
        return RankingMetrics(
            k: k, precision: total.precision / n, recall: total.recall / n, ndcg: total.ndcg / n, map: total.map / n,
            coverage: movieCount == 0 ? 0 : Double(covered.lazy.filter { $0 }.count) / Double(movieCount),
            users: evaluatedUsers.count)
    }

    private func evaluate(users: [Int32], scorer: RankingScorer, scores: inout [Float]) -> BlockResult {
        let b = users.count, mc = movieCount
        switch scorer {
        case .fixed(let values):
            for i in 0..<b { for m in 0..<mc { scores[i * mc + m] = values[m] } }
        case .factors(let dim, let userFactors, let movieFactors, let movieBias):
            for i in 0..<b { for m in 0..<mc { scores[i * mc + m] = movieBias[m] } }
            if dim > 0 {
                var block = [Float](repeating: 0, count: b * dim)
                for (i, u) in users.enumerated() {
                    for f in 0..<dim { block[i * dim + f] = userFactors[Int(u) * dim + f] }
                }
                block.withUnsafeBufferPointer { a in
                    movieFactors.withUnsafeBufferPointer { q in
                        scores.withUnsafeMutableBufferPointer { c in
                            // C (b x movies) += A (b x k) Q^T.
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(b), Int32(mc), Int32(dim), 1,
                                        a.baseAddress, Int32(dim), q.baseAddress, Int32(dim), 1, c.baseAddress, Int32(mc))
                        }
                    }
                }
            }
        }
        var result = BlockResult()
        var top = [Int32](repeating: -1, count: k)
        var topScores = [Float](repeating: -.infinity, count: k)
        var isRelevant = [Bool](repeating: false, count: mc)
        for (i, u32) in users.enumerated() {
            let u = Int(u32)
            let row = i * mc
            for j in trainOffsets[u] ..< trainOffsets[u + 1] { scores[row + Int(trainMovies[j])] = -.infinity }
            // Top k by insertion into a small sorted list (k is small).
            for j in 0..<k { top[j] = -1; topScores[j] = -.infinity }
            for m in 0..<mc {
                let s = scores[row + m]
                guard s > topScores[k - 1] else { continue }
                var p = k - 1
                while p > 0 && topScores[p - 1] < s {
                    topScores[p] = topScores[p - 1]; top[p] = top[p - 1]; p -= 1
                }
                topScores[p] = s; top[p] = Int32(m)
            }
            let relevant = relevantOffsets[u] ..< relevantOffsets[u + 1]
            for j in relevant { isRelevant[Int(relevantMovies[j])] = true }
            var hits = 0, dcg = 0.0, ap = 0.0
            for r in 0..<k where top[r] >= 0 {
                result.recommended.append(top[r])
                if isRelevant[Int(top[r])] {
                    hits += 1
                    dcg += 1 / log2(Double(r + 2))
                    ap += Double(hits) / Double(r + 1)
                }
            }
            for j in relevant { isRelevant[Int(relevantMovies[j])] = false }
            var idcg = 0.0
            for r in 0..<min(relevant.count, k) { idcg += 1 / log2(Double(r + 2)) }
            result.precision += Double(hits) / Double(k)
            result.recall += Double(hits) / Double(relevant.count)
            result.ndcg += idcg > 0 ? dcg / idcg : 0
            result.map += ap / Double(min(relevant.count, k))
        }
        return result
    }
}

/// Per-block results written by parallel workers. `@unchecked Sendable`: guarded by a lock.
private final class RankingResults: @unchecked Sendable {
    private var slots: [RankingEvaluator.BlockResult]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: .init(), count: count) }
    func set(_ i: Int, _ r: RankingEvaluator.BlockResult) { lock.lock(); slots[i] = r; lock.unlock() }
    func get(_ i: Int) -> RankingEvaluator.BlockResult { lock.lock(); defer { lock.unlock() }; return slots[i] }
}
