import Foundation

/// Top-N recommendations for every user of a model, row-major by dense user index.
public struct TopNTable: Sendable {
    /// N: slots per user.
    public let count: Int
    public let userCount: Int
    /// `userCount x count` movie ids, best first; only the first `filled[u]` of row `u` are valid.
    public var movieIDs: [Int64]
    /// Unclipped predicted ratings, matching `movieIDs`.
    public var scores: [Float]
    /// How many slots of each user's row are used (fewer than `count` when the user has
    /// rated nearly everything).
    public var filled: [Int32]

    /// The list of dense user `u`, best first.
    public func recommendations(forUser u: Int) -> [(movieID: Int64, score: Float)] {
        let base = u * count
        return (0..<Int(filled[u])).map { (movieID: movieIDs[base + $0], score: scores[base + $0]) }
    }
}

extension FactorModel {
    /// Top-`count` movies for every user, excluding each user's rated movies from `rated`
    /// (whose dense indices must be this model's, as when the model was trained from the same
    /// ``Dataset``). Scores blocks of users against all movies with one `sgemm` per block,
    /// then selects the top N per user with a heap (no full sort); blocks run in parallel.
    public func topNForAllUsers(
        count: Int, excluding rated: SparseRatings? = nil,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64
    ) throws -> TopNTable {
        guard count >= 0 else { throw ModelError.invalidParameter(name: "count", value: "\(count)", requirement: "zero or positive") }
        guard blockSize >= 1 else { throw ModelError.invalidParameter(name: "blockSize", value: "\(blockSize)", requirement: "at least 1") }
        if let rated, rated.userCount != users.count || rated.movieCount != movies.count {
            throw ModelError.invalidParameter(
                name: "excluding", value: "\(rated.userCount) users x \(rated.movieCount) movies",
                requirement: "indexed like the model (\(users.count) users x \(movies.count) movies)")
        }
        let userCount = users.count, movieCount = movies.count, k = self.k
        var ids = [Int64](repeating: 0, count: userCount * count)
        var scores = [Float](repeating: 0, count: userCount * count)
        var filled = [Int32](repeating: 0, count: userCount)
        let blocks = (userCount + blockSize - 1) / blockSize
        let chunks = ParallelChunks(rowCount: userCount, chunkCount: max(blocks, 1)) { _ in 1 }
        let model = self
        let maxRows = chunks.chunkCount > 0 ? (0..<chunks.chunkCount).map { chunks.range($0).count }.max() ?? 0 : 0
        ids.withUnsafeMutableBufferPointer { idOut in
            scores.withUnsafeMutableBufferPointer { scoreOut in
                filled.withUnsafeMutableBufferPointer { filledOut in
                    guard let idBase = idOut.baseAddress, let scoreBase = scoreOut.baseAddress, let filledBase = filledOut.baseAddress else { return }
                    let idPtr = SharedPointer(idBase), scorePtr = SharedPointer(scoreBase), filledPtr = SharedPointer(filledBase)
                    BLAS.withThreadCount(1) {
                        chunks.run(workers: threads, makeScratch: {
                            (buffer: [Float](repeating: 0, count: max(maxRows * movieCount, 1)), top: TopNSelector(capacity: count))
                        }) { scratch, _, range in
                            guard !range.isEmpty else { return }
                            let rows = range.count
                            if k > 0 {
                                model.userFactors.withUnsafeBufferPointer { p in
                                    model.movieFactors.withUnsafeBufferPointer { q in
                                        scratch.buffer.withUnsafeMutableBufferPointer { c in
                                            guard let pb = p.baseAddress, let qb = q.baseAddress, let cb = c.baseAddress else { return }
                                            BLAS.gemmABt(m: rows, n: movieCount, k: k, a: pb + range.lowerBound * k, b: qb, c: cb)
                                        }
                                    }
                                }
                            }
                            for (row, u) in range.enumerated() {
                                let base = row * movieCount
                                let offset = model.globalMean + model.userBias[u]
                                scratch.buffer.withUnsafeMutableBufferPointer { c in
                                    if k == 0 { for m in 0..<movieCount { c[base + m] = 0 } }
                                    if let rated {
                                        for p in rated.userRange(u) { c[base + Int(rated.userMovies[p])] = -.infinity }
                                    }
                                    scratch.top.reset()
                                    for m in 0..<movieCount where c[base + m] != -.infinity {
                                        scratch.top.offer(index: Int32(m), score: c[base + m] + model.movieBias[m] + offset)
                                    }
                                }
                                let best = scratch.top.sorted()
                                for (slot, entry) in best.enumerated() {
                                    idPtr.base[u * count + slot] = model.movies.ids[Int(entry.index)]
                                    scorePtr.base[u * count + slot] = entry.score
                                }
                                filledPtr.base[u] = Int32(best.count)
                            }
                        }
                    }
                }
            }
        }
        return TopNTable(count: count, userCount: userCount, movieIDs: ids, scores: scores, filled: filled)
    }
}
