import CSIMD
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
    /// block of scores per thread, never a users x movies matrix. A model with a
    /// ``ratingHead`` scores every pair through it (unclipped outputs), and refuses when users x
    /// movies is above ``RatingHead/maxScoredPairs``.
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
        var problem: BlockTopN
        if let ratingHead {
            try RatingHead.checkScoringSize(users: users.count, movies: movies.count)
            problem = BlockTopN(
                queries: [], queryCount: users.count, items: [], itemCount: movies.count, k: k,
                itemBias: [], queryOffset: nil, itemIDs: movies.ids, count: count)
            problem.scorer = RatingHeadScorer(
                head: ratingHead, userFactors: userFactors, userCount: users.count, movieFactors: movieFactors, movieCount: movies.count)
        } else {
            let offsets = (0..<users.count).map { globalMean + userBias[$0] }
            problem = BlockTopN(
                queries: userFactors, queryCount: users.count, items: movieFactors, itemCount: movies.count, k: k,
                itemBias: movieBias, queryOffset: offsets, itemIDs: movies.ids, count: count)
        }
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

    /// Every user's scores against every movie by the same blocked `sgemm` as
    /// ``topNForAllUsers(count:excluding:excludedMovies:threads:blockSize:)``, with nothing
    /// selected: the arithmetic top-N cannot avoid, for benchmarks. Returns a checksum so the
    /// work is not optimised away.
    package func scoreAllUsers(threads: Int = ProcessInfo.processInfo.activeProcessorCount, blockSize: Int = 64) -> Float {
        let problem = BlockTopN(
            queries: userFactors, queryCount: users.count, items: movieFactors, itemCount: movies.count, k: k,
            itemBias: movieBias, queryOffset: nil, itemIDs: movies.ids, count: 0)
        return problem.scoreOnly(threads: threads, blockSize: blockSize)
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
    /// When set, the raw scores come from a rating MLP's head instead of the dot products.
    var scorer: RatingHeadScorer? = nil

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
        let (chunks, maxRows) = blocks(of: blockSize)
        BLAS.withThreadCount(1) {
            chunks.run(workers: threads, makeScratch: {
                (buffer: [Float](repeating: 0, count: max(maxRows * itemCount, 1)), top: TopNSelector(capacity: count),
                 guesses: [ThresholdGuess](repeating: ThresholdGuess(), count: selections.count),
                 finalScores: [Float](repeating: 0, count: max(itemCount, 1)))
            }) { scratch, _, range in
                guard !range.isEmpty else { return }
                score(range, into: &scratch.buffer)
                for (row, q) in range.enumerated() {
                    scratch.buffer.withUnsafeMutableBufferPointer { all in
                        let rowScores = UnsafeMutableBufferPointer(rebasing: all[(row * itemCount) ..< ((row + 1) * itemCount)])
                        exclude(q, rowScores)
                        scratch.finalScores.withUnsafeMutableBufferPointer { final in
                            for (s, (selection, output)) in zip(selections, outputs).enumerated() {
                                select(
                                    rowScores, query: q, selection: selection, finalScores: final, top: &scratch.top,
                                    guess: &scratch.guesses[s], output: output)
                            }
                        }
                    }
                }
            }
        }
        return tables.map { $0.table() }
    }

    /// The query rows in blocks of about `blockSize` (one `sgemm` each), and the most rows in
    /// any block (the size of a worker's score buffer).
    private func blocks(of blockSize: Int) -> (chunks: ParallelChunks, maxRows: Int) {
        let chunks = ParallelChunks(rowCount: queryCount, chunkCount: max((queryCount + blockSize - 1) / blockSize, 1)) { _ in 1 }
        return (chunks, (0..<chunks.chunkCount).map { chunks.range($0).count }.max() ?? 0)
    }

    /// The scoring part of ``run(threads:blockSize:selections:exclude:)`` alone; returns the
    /// sum of each block's first score.
    func scoreOnly(threads: Int, blockSize: Int) -> Float {
        let (chunks, maxRows) = blocks(of: blockSize)
        let sums = SharedPointer(UnsafeMutablePointer<Float>.allocate(capacity: chunks.chunkCount))
        sums.base.initialize(repeating: 0, count: chunks.chunkCount)
        defer { sums.base.deallocate() }
        BLAS.withThreadCount(1) {
            chunks.run(workers: threads, makeScratch: { [Float](repeating: 0, count: max(maxRows * itemCount, 1)) }) { buffer, chunk, range in
                guard !range.isEmpty else { return }
                score(range, into: &buffer)
                sums.base[chunk] = buffer[0]
            }
        }
        return (0..<chunks.chunkCount).reduce(0) { $0 + sums.base[$1] }
    }

    /// Offers `top` the items of `scores` that beat its threshold. Most items score below the
    /// current N-th best: eight at a time, one vector comparison rejects them without touching
    /// the selector. Items come in index order, so an equal score loses (ties keep the lower
    /// index), and excluded items (-infinity, or NaN once scaled by 0) never pass.
    @inline(__always)
    private static func scan(_ scores: UnsafeBufferPointer<Float>, _ top: inout TopNSelector) {
        guard let base = scores.baseAddress else { return }
        let count = scores.count
        var threshold = top.threshold
        let vectorEnd = count - count % 8
        var i = 0
        while i < vectorEnd {
            let s = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self)
            var passing = latent_greater_mask8(s, threshold)
            while passing != 0 {
                let j = passing.trailingZeroBitCount
                passing &= passing - 1
                // The threshold may have risen within these eight.
                if s[j] > threshold {
                    top.offer(index: Int32(i + j), score: s[j])
                    threshold = top.threshold
                }
            }
            i += 8
        }
        while i < count {
            if base[i] > threshold {
                top.offer(index: Int32(i), score: base[i])
                threshold = top.threshold
            }
            i += 1
        }
    }

    /// A guess at a row's N-th best score from the rows before it (rows of one problem score
    /// alike: the same movie biases, similar users), so the scan starts with a high bar
    /// instead of -infinity and hands the selector about N candidates rather than N ln(M/N).
    /// The guess is the previous row's N-th best lowered by twice the usual change between
    /// consecutive rows; when fewer than N items beat it, the row is scanned again without it,
    /// so lists are exact either way.
    struct ThresholdGuess {
        private var last = -Float.infinity
        private var spread = Float.infinity

        var floor: Float { last.isFinite && spread.isFinite ? last - 2 * spread : -.infinity }

        mutating func record(_ threshold: Float) {
            if last.isFinite, threshold.isFinite {
                let change = abs(threshold - last)
                spread = spread.isFinite ? 0.9 * spread + 0.1 * change : change
            }
            last = threshold
        }
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

    /// `buffer[row, i] = queries[q] . items[i]` for the block's rows (zero when `k == 0`), or
    /// the ``scorer``'s outputs.
    private func score(_ range: Range<Int>, into buffer: inout [Float]) {
        let rows = range.count
        if let scorer {
            buffer.withUnsafeMutableBufferPointer { c in
                guard let cb = c.baseAddress else { return }
                scorer.score(users: range, into: cb)
            }
            return
        }
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

    /// Selects the best of one row under `selection` and writes it to the output slots of
    /// `query`. The row's final scores are made first in one pass (the compiler vectorises
    /// it), so the scan reads plain floats.
    private func select(
        _ row: UnsafeMutableBufferPointer<Float>, query: Int, selection: Selection, finalScores: UnsafeMutableBufferPointer<Float>,
        top: inout TopNSelector, guess: inout ThresholdGuess, output: Output
    ) {
        let offset = queryOffset?[query] ?? 0
        guard let raw = row.baseAddress, let final = finalScores.baseAddress else { return output.filled.base[query] = 0 }
        finish(raw, into: final, offset: offset, rowScale: selection.queryScale.isEmpty ? 1 : selection.queryScale[query], selection: selection)
        let scores = UnsafeBufferPointer(start: final, count: itemCount)
        // The guess is kept relative to the row's offset (e.g. a user's bias), which moves every
        // score of the row alike.
        let floor = guess.floor + offset
        top.reset(above: floor)
        Self.scan(scores, &top)
        if !top.isFull, floor > -.infinity {
            // The guess was too high: fewer than N items beat it, so scan again without one.
            top.reset()
            Self.scan(scores, &top)
        }
        let kept = top.finish()
        guess.record(kept == count && kept > 0 ? top.entry(kept - 1).score - offset : -.infinity)
        for slot in 0..<kept {
            let entry = top.entry(slot)
            output.ids.base[query * count + slot] = itemIDs[Int(entry.index)]
            output.scores.base[query * count + slot] = entry.score
        }
        output.filled.base[query] = Int32(kept)
    }

    /// `final[i] = raw[i] * rowScale * itemScale[i] + itemBias[i] + offset`, one loop per case
    /// so each is a plain vectorisable loop.
    private func finish(
        _ raw: UnsafeMutablePointer<Float>, into final: UnsafeMutablePointer<Float>, offset: Float, rowScale: Float, selection: Selection
    ) {
        let n = itemCount
        itemBias.withUnsafeBufferPointer { bias in
            selection.itemScale.withUnsafeBufferPointer { scale in
                switch (bias.isEmpty ? nil : bias.baseAddress, scale.isEmpty ? nil : scale.baseAddress) {
                case (nil, nil):
                    for i in 0..<n { final[i] = raw[i] + offset }
                case let (b?, nil):
                    for i in 0..<n { final[i] = raw[i] + b[i] + offset }
                case let (nil, c?):
                    for i in 0..<n { final[i] = raw[i] * rowScale * c[i] + offset }
                case let (b?, c?):
                    for i in 0..<n { final[i] = raw[i] * rowScale * c[i] + b[i] + offset }
                }
            }
        }
    }
}
