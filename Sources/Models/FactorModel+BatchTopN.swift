import Foundation

/// Top-N lists for every row of a batch (every user of a model, or every movie for similar
/// movies), row-major by dense row index.
public struct TopNTable: Sendable {
    /// N: slots per row.
    public let count: Int
    /// Rows: users for ``FactorModel/topNForAllUsers(count:excluding:excludedMovies:threads:blockSize:)``,
    /// movies for ``FactorModel/similarForAllMovies(count:measure:excludedMovies:threads:blockSize:)``.
    public let userCount: Int
    /// `userCount x count` movie ids, best first; only the first `filled[u]` of row `u` are valid.
    public var movieIDs: [Int64]
    /// Unclipped scores matching `movieIDs` (predicted ratings, or similarities).
    public var scores: [Float]
    /// How many slots of each row are used (fewer than `count` when the user has rated nearly
    /// everything, or the catalogue is smaller than N).
    public var filled: [Int32]

    /// The list of dense row `u`, best first.
    public func recommendations(forUser u: Int) -> [(movieID: Int64, score: Float)] {
        let base = u * count
        return (0..<Int(filled[u])).map { (movieID: movieIDs[base + $0], score: scores[base + $0]) }
    }

    /// The number of valid entries over all rows.
    public var entryCount: Int { filled.reduce(0) { $0 + Int($1) } }
}

extension FactorModel {
    /// Top-`count` movies for every user, excluding each user's rated movies from `rated`
    /// (whose dense indices must be this model's, as when the model was trained from the same
    /// ``Dataset``) and every movie in `excludedMovies` (ids; unknown ones are ignored).
    /// Scores blocks of users against all movies with one `sgemm` per block, then selects the
    /// top N per user with a heap (no full sort); blocks run in parallel, and memory is one
    /// block of scores per thread, never a users x movies matrix.
    public func topNForAllUsers(
        count: Int, excluding rated: SparseRatings? = nil, excludedMovies: Set<Int64> = [],
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64
    ) throws -> TopNTable {
        if let rated, rated.userCount != users.count || rated.movieCount != movies.count {
            throw ModelError.invalidParameter(
                name: "excluding", value: "\(rated.userCount) users x \(rated.movieCount) movies",
                requirement: "indexed like the model (\(users.count) users x \(movies.count) movies)")
        }
        let banned = movieMask(excludedMovies)
        let offsets = (0..<users.count).map { globalMean + userBias[$0] }
        let problem = BlockTopN(
            queries: userFactors, queryCount: users.count, items: movieFactors, itemCount: movies.count, k: k,
            itemBias: movieBias, queryOffset: offsets, itemIDs: movies.ids, count: count)
        return try problem.run(threads: threads, blockSize: blockSize) { u, scores in
            if let rated { for p in rated.userRange(u) { scores[Int(rated.userMovies[p])] = -.infinity } }
            for m in banned { scores[m] = -.infinity }
        }
    }

    /// The `count` most similar movies of every movie by `measure` over the movie vectors
    /// (the movie itself and `excludedMovies` left out), computed like
    /// ``topNForAllUsers(count:excluding:excludedMovies:threads:blockSize:)``: one `sgemm`
    /// per block of movies, heap selection, both cores. With `.cosine` the vectors are
    /// normalised first (a zero vector scores 0 against everything).
    public func similarForAllMovies(
        count: Int, measure: SimilarityMeasure, excludedMovies: Set<Int64> = [],
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64
    ) throws -> TopNTable {
        guard k > 0 else {
            throw ModelError.invalidParameter(name: "k", value: "0", requirement: "positive: a model without movie vectors has no similar movies")
        }
        var vectors = movieFactors
        if measure == .cosine {
            let norms = movieNorms()
            for m in 0..<movies.count where norms[m] > 0 {
                let scale = 1 / norms[m]
                for d in 0..<k { vectors[m * k + d] *= scale }
            }
        }
        let banned = movieMask(excludedMovies)
        let problem = BlockTopN(
            queries: vectors, queryCount: movies.count, items: vectors, itemCount: movies.count, k: k,
            itemBias: [], queryOffset: nil, itemIDs: movies.ids, count: count)
        return try problem.run(threads: threads, blockSize: blockSize) { m, scores in
            scores[m] = -.infinity
            for b in banned { scores[b] = -.infinity }
        }
    }

    /// Dense indices of the given movie ids that the model knows.
    private func movieMask(_ ids: Set<Int64>) -> [Int] {
        ids.compactMap { movies[$0].map(Int.init) }.sorted()
    }
}

/// One batch top-N problem: `score(q, i) = queries[q] . items[i] + itemBias[i] + queryOffset[q]`
/// for every query row, the best `count` items kept per row.
struct BlockTopN: Sendable {
    let queries: [Float]
    let queryCount: Int
    let items: [Float]
    let itemCount: Int
    let k: Int
    /// Empty: no bias.
    let itemBias: [Float]
    let queryOffset: [Float]?
    let itemIDs: [Int64]
    let count: Int

    /// Runs the blocks on `threads` workers. `exclude(row, scores)` sets the scores of the items
    /// row `row` must not list to `-infinity`; it runs once per row, after the scores are made.
    func run(
        threads: Int, blockSize: Int, exclude: @escaping @Sendable (Int, UnsafeMutableBufferPointer<Float>) -> Void
    ) throws -> TopNTable {
        guard count >= 0 else { throw ModelError.invalidParameter(name: "count", value: "\(count)", requirement: "zero or positive") }
        guard blockSize >= 1 else { throw ModelError.invalidParameter(name: "blockSize", value: "\(blockSize)", requirement: "at least 1") }
        var ids = [Int64](repeating: 0, count: queryCount * count)
        var scores = [Float](repeating: 0, count: queryCount * count)
        var filled = [Int32](repeating: 0, count: queryCount)
        let blocks = (queryCount + blockSize - 1) / blockSize
        let chunks = ParallelChunks(rowCount: queryCount, chunkCount: max(blocks, 1)) { _ in 1 }
        let maxRows = (0..<chunks.chunkCount).map { chunks.range($0).count }.max() ?? 0
        ids.withUnsafeMutableBufferPointer { idOut in
            scores.withUnsafeMutableBufferPointer { scoreOut in
                filled.withUnsafeMutableBufferPointer { filledOut in
                    guard let idBase = idOut.baseAddress, let scoreBase = scoreOut.baseAddress,
                          let filledBase = filledOut.baseAddress else { return }
                    let output = Output(ids: SharedPointer(idBase), scores: SharedPointer(scoreBase), filled: SharedPointer(filledBase))
                    BLAS.withThreadCount(1) {
                        chunks.run(workers: threads, makeScratch: {
                            (buffer: [Float](repeating: 0, count: max(maxRows * itemCount, 1)), top: TopNSelector(capacity: count))
                        }) { scratch, _, range in
                            guard !range.isEmpty else { return }
                            score(range, into: &scratch.buffer)
                            for (row, q) in range.enumerated() {
                                scratch.buffer.withUnsafeMutableBufferPointer { all in
                                    let rowScores = UnsafeMutableBufferPointer(rebasing: all[(row * itemCount) ..< ((row + 1) * itemCount)])
                                    exclude(q, rowScores)
                                    select(rowScores, query: q, top: &scratch.top, output: output)
                                }
                            }
                        }
                    }
                }
            }
        }
        return TopNTable(count: count, userCount: queryCount, movieIDs: ids, scores: scores, filled: filled)
    }

    private struct Output: @unchecked Sendable {
        let ids: SharedPointer<Int64>
        let scores: SharedPointer<Float>
        let filled: SharedPointer<Int32>
    }

    /// `buffer[row, i] = queries[q] . items[i]` for the block's rows (zero when `k == 0`).
    private func score(_ range: Range<Int>, into buffer: inout [Float]) {
        let rows = range.count
        queries.withUnsafeBufferPointer { p in
            items.withUnsafeBufferPointer { q in
                buffer.withUnsafeMutableBufferPointer { c in
                    guard let cb = c.baseAddress else { return }
                    guard k > 0, let pb = p.baseAddress, let qb = q.baseAddress else {
                        cb.update(repeating: 0, count: rows * itemCount)
                        return
                    }
                    BLAS.gemmABt(m: rows, n: itemCount, k: k, a: pb + range.lowerBound * k, b: qb, c: cb)
                }
            }
        }
    }

    /// Heap-selects the best of one row and writes it to the output slots of `query`.
    private func select(
        _ row: UnsafeMutableBufferPointer<Float>, query: Int, top: inout TopNSelector, output: Output
    ) {
        let offset = queryOffset?[query] ?? 0
        top.reset()
        // Most items score below the current N-th best: one comparison rejects them without
        // touching the heap. Items come in index order, so an equal score loses (ties keep the
        // lower index), and excluded items (-infinity) and NaN never pass.
        var threshold = -Float.infinity
        itemBias.withUnsafeBufferPointer { bias in
            for i in 0..<itemCount {
                let score = row[i] + (bias.isEmpty ? 0 : bias[i]) + offset
                guard score > threshold else { continue }
                top.offer(index: Int32(i), score: score)
                if top.isFull { threshold = top.minimumScore }
            }
        }
        let best = top.sorted()
        for (slot, entry) in best.enumerated() {
            output.ids.base[query * count + slot] = itemIDs[Int(entry.index)]
            output.scores.base[query * count + slot] = entry.score
        }
        output.filled.base[query] = Int32(best.count)
    }
}
