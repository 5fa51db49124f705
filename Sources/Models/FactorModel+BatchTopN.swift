import Foundation

/// Top-N lists for every row of a batch (every user of a model, or every movie for similar
/// movies), row-major by dense row index.
package struct TopNTable: Sendable {
    /// N: slots per row.
    package let count: Int
    /// Rows: users for ``FactorModel/topNForAllUsers(count:excluding:excludedMovies:threads:blockSize:)``,
    /// movies for ``FactorModel/similarForAllMovies(count:measure:excludedMovies:threads:blockSize:)``.
    package let userCount: Int
    /// `userCount x count` movie ids, best first; only the first `filled[u]` of row `u` are valid.
    package var movieIDs: [Int64]
    /// Unclipped scores matching `movieIDs` (predicted ratings, or similarities).
    package var scores: [Float]
    /// How many slots of each row are used (fewer than `count` when the user has rated nearly
    /// everything, or the catalogue is smaller than N).
    package var filled: [Int32]

    /// The list of dense row `u`, best first.
    package func recommendations(forUser u: Int) -> [(movieID: Int64, score: Float)] {
        let base = u * count
        return (0..<Int(filled[u])).map { (movieID: movieIDs[base + $0], score: scores[base + $0]) }
    }

    /// The number of valid entries over all rows.
    package var entryCount: Int { filled.reduce(0) { $0 + Int($1) } }
}

extension FactorModel {
    /// Top-`count` movies for every user, excluding each user's rated movies from `rated`
    /// (whose dense indices must be this model's, as when the model was trained from the same
    /// ``Dataset``) and every movie in `excludedMovies` (ids; unknown ones are ignored).
    /// Scores blocks of users against all movies with one `sgemm` per block, then selects the
    /// top N per user with a heap (no full sort); blocks run in parallel, and memory is one
    /// block of scores per thread, never a users x movies matrix.
    package func topNForAllUsers(
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
        return try problem.run(threads: threads, blockSize: blockSize, selections: [BlockTopN.Selection()]) { u, scores in
            if let rated { for p in rated.userRange(u) { scores[Int(rated.userMovies[p])] = -.infinity } }
            for m in banned { scores[m] = -.infinity }
        }[0]
    }

    /// The `count` most similar movies of every movie by `measure` over the movie vectors
    /// (the movie itself and `excludedMovies` left out), computed like
    /// ``topNForAllUsers(count:excluding:excludedMovies:threads:blockSize:)``: one `sgemm`
    /// per block of movies, heap selection, both cores. Cosine divides the dot products by
    /// both norms (a zero vector scores 0 against everything).
    package func similarForAllMovies(
        count: Int, measure: SimilarityMeasure, excludedMovies: Set<Int64> = [],
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64
    ) throws -> TopNTable {
        try similarForAllMovies(
            count: count, measures: [measure], excludedMovies: excludedMovies, threads: threads, blockSize: blockSize)[0]
    }

    /// The same for several measures at once, in the order of `measures`: every measure is a
    /// scaling of the same dot products, so one `sgemm` per block serves them all.
    package func similarForAllMovies(
        count: Int, measures: [SimilarityMeasure], excludedMovies: Set<Int64> = [],
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64
    ) throws -> [TopNTable] {
        guard k > 0 else {
            throw ModelError.invalidParameter(name: "k", value: "0", requirement: "positive: a model without movie vectors has no similar movies")
        }
        guard kind.hasVectors else {
            throw ModelError.invalidParameter(name: "model kind", value: kind.rawValue, requirement: "a model with movie vectors (ease has none)")
        }
        let inverseNorms = movieNorms().map { $0 > 0 ? 1 / $0 : 0 }
        let selections = measures.map { measure -> BlockTopN.Selection in
            switch measure {
            case .dot: return BlockTopN.Selection()
            case .cosine: return BlockTopN.Selection(queryScale: inverseNorms, itemScale: inverseNorms)
            }
        }
        let banned = movieMask(excludedMovies)
        let problem = BlockTopN(
            queries: movieFactors, queryCount: movies.count, items: movieFactors, itemCount: movies.count, k: k,
            itemBias: [], queryOffset: nil, itemIDs: movies.ids, count: count)
        return try problem.run(threads: threads, blockSize: blockSize, selections: selections) { m, scores in
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

    /// One list per row taken from the same products, scaled: `score = raw * queryScale[q] *
    /// itemScale[i] + itemBias[i] + queryOffset[q]` (an empty scale is 1).
    struct Selection: Sendable {
        var queryScale: [Float] = []
        var itemScale: [Float] = []
    }

    /// Runs the blocks on `threads` workers, one table per selection. `exclude(row, scores)`
    /// sets the raw scores of the items row `row` must not list to `-infinity`; it runs once
    /// per row, after the scores are made.
    func run(
        threads: Int, blockSize: Int, selections: [Selection],
        exclude: @escaping @Sendable (Int, UnsafeMutableBufferPointer<Float>) -> Void
    ) throws -> [TopNTable] {
        guard count >= 0 else { throw ModelError.invalidParameter(name: "count", value: "\(count)", requirement: "zero or positive") }
        guard blockSize >= 1 else { throw ModelError.invalidParameter(name: "blockSize", value: "\(blockSize)", requirement: "at least 1") }
        let tables = selections.map { _ in OutputTable(rows: queryCount, count: count) }
        let outputs = tables.map(\.output)
        let blocks = (queryCount + blockSize - 1) / blockSize
        let chunks = ParallelChunks(rowCount: queryCount, chunkCount: max(blocks, 1)) { _ in 1 }
        let maxRows = (0..<chunks.chunkCount).map { chunks.range($0).count }.max() ?? 0
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
                        for (selection, output) in zip(selections, outputs) {
                            select(rowScores, query: q, selection: selection, top: &scratch.top, output: output)
                        }
                    }
                }
            }
        }
        return tables.map { $0.table() }
    }

    /// A table's arrays, written through raw pointers by the workers (each row by exactly one
    /// worker). `@unchecked Sendable`: the pointers stay valid until ``table()``, and rows are
    /// disjoint.
    private final class OutputTable: @unchecked Sendable {
        let rows: Int, count: Int
        let ids: UnsafeMutablePointer<Int64>
        let scores: UnsafeMutablePointer<Float>
        let filled: UnsafeMutablePointer<Int32>

        init(rows: Int, count: Int) {
            self.rows = rows
            self.count = count
            ids = .allocate(capacity: max(rows * count, 1))
            scores = .allocate(capacity: max(rows * count, 1))
            filled = .allocate(capacity: max(rows, 1))
            ids.initialize(repeating: 0, count: max(rows * count, 1))
            scores.initialize(repeating: 0, count: max(rows * count, 1))
            filled.initialize(repeating: 0, count: max(rows, 1))
        }

        deinit {
            ids.deallocate()
            scores.deallocate()
            filled.deallocate()
        }

        var output: Output { Output(ids: SharedPointer(ids), scores: SharedPointer(scores), filled: SharedPointer(filled)) }

        func table() -> TopNTable {
            TopNTable(
                count: count, userCount: rows, movieIDs: Array(UnsafeBufferPointer(start: ids, count: rows * count)),
                scores: Array(UnsafeBufferPointer(start: scores, count: rows * count)),
                filled: Array(UnsafeBufferPointer(start: filled, count: rows)))
        }
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

    /// Heap-selects the best of one row under `selection` and writes it to the output slots
    /// of `query`.
    private func select(
        _ row: UnsafeMutableBufferPointer<Float>, query: Int, selection: Selection, top: inout TopNSelector, output: Output
    ) {
        let offset = queryOffset?[query] ?? 0
        let rowScale = selection.queryScale.isEmpty ? 1 : selection.queryScale[query]
        top.reset()
        // Most items score below the current N-th best: one comparison rejects them without
        // touching the heap. Items come in index order, so an equal score loses (ties keep the
        // lower index), and excluded items (-infinity, or NaN once scaled by 0) never pass.
        var threshold = -Float.infinity
        @inline(__always) func scan(_ score: (Int) -> Float) {
            for i in 0..<itemCount {
                let s = score(i)
                guard s > threshold else { continue }
                top.offer(index: Int32(i), score: s)
                if top.isFull { threshold = top.minimumScore }
            }
        }
        itemBias.withUnsafeBufferPointer { bias in
            selection.itemScale.withUnsafeBufferPointer { scale in
                // One loop per case, so the hot loop tests nothing but the threshold.
                switch (bias.isEmpty, scale.isEmpty) {
                case (true, true): scan { row[$0] + offset }
                case (false, true): scan { row[$0] + bias[$0] + offset }
                case (true, false): scan { row[$0] * rowScale * scale[$0] + offset }
                case (false, false): scan { row[$0] * rowScale * scale[$0] + bias[$0] + offset }
                }
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
