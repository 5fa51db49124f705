import COpenBLAS
import Foundation

/// One side of an ALS iteration: every row (a user, or a movie) gets its bias and then its
/// vector re-solved with the other side held fixed (seed 001, eq. (1) then eq. (2)).
///
/// For a row with ratings `r_j` of columns `c_j` (n of them), residual targets
/// `e_j = r_j - mu - b_{c_j}`, fixed vectors `y_j`, regularisation `l = lambda * n^alpha`:
///   bias:   b = sum_j (e_j - x . y_j) / (n + gamma)
///   vector: (sum_j y_j y_j^T + l I) x = sum_j y_j (e_j - b) + l * prior
/// The normal matrix is built from the row's vectors gathered into one contiguous `n x k`
/// buffer (one `ssyrk`, or a hand loop for very short rows) and solved by Cholesky.
struct ALSHalfStep {
    var k: Int
    var globalMean: Float
    /// The regularisation of the formulas above: `lambda * n^alpha` on a vector, `gamma` on a bias.
    var lambda, alpha, gamma: Float
    var workers: Int
    /// Rows with at most this many ratings build the normal matrix with a hand loop, which
    /// beats the BLAS call overhead there.
    var handLoopLimit: Int = 4
    /// Steck's missing-not-at-random term (nil when off): every unrated pair of a rated user
    /// and a rated movie counts as a rating `rating` with weight `weight`.
    var missing: MissingSums? = nil
    /// The ranking objective (implicit-feedback ALS): the rows' values are confidences, there
    /// are no biases, and `missing` holds the all-pairs Gram sums (see ``solveRankingRow``).
    var ranking = false
    /// Ranking objective: 0 solves each row exactly (Cholesky); a positive count takes that
    /// many conjugate-gradient steps from the row's current vector instead (see
    /// ``solveRankingRows``).
    var conjugateGradientSteps = 0

    /// Sums over the fixed side's rows that have ratings, for the missing-data term.
    struct MissingSums: Sendable {
        var weight: Float
        var rating: Float
        /// `sum_j y_j y_j^T`, `k x k`, whole (symmetric, so row- and column-major alike).
        var gram: [Float]
        /// `sum_j y_j`.
        var vectors: [Float]
        /// `sum_j t_j` with `t_j = rating - mu - b_j`.
        var targets: Float
        /// `sum_j t_j y_j`.
        var weightedVectors: [Float]
        /// Number of fixed rows with ratings.
        var count: Int
    }

    /// CSR rows; `@unchecked Sendable` because the pointers are only read in parallel.
    struct Rows: @unchecked Sendable {
        var offsets: UnsafePointer<Int>
        var columns: UnsafePointer<Int32>
        var values: UnsafePointer<Float>
        var count: Int
        var maxLength: Int
    }

    /// Per-worker buffers, allocated once per half-step per worker.
    final class Scratch {
        let gathered: UnsafeMutablePointer<Float>
        let targets: UnsafeMutablePointer<Float>
        let products: UnsafeMutablePointer<Float>
        let normal: UnsafeMutablePointer<Float>
        let rhs: UnsafeMutablePointer<Float>
        /// The conjugate-gradient solve's block (``solveRankingRows``); empty without it.
        let block: BlockScratch
        let capacity: Int
        let k: Int

        /// `maxLength` is the most ratings gathered at once, `blockRows` the rows of a
        /// conjugate-gradient block (0 without).
        init(maxLength: Int, k: Int, blockRows: Int) {
            capacity = max(maxLength, 1)
            self.k = k
            gathered = .allocate(capacity: capacity * max(k, 1))
            targets = .allocate(capacity: capacity)
            products = .allocate(capacity: capacity)
            normal = .allocate(capacity: max(k * k, 1))
            rhs = .allocate(capacity: max(k, 1))
            block = BlockScratch(rows: blockRows, k: k)
        }

        deinit {
            gathered.deallocate()
            targets.deallocate()
            products.deallocate()
            normal.deallocate()
            rhs.deallocate()
            block.deallocate()
        }
    }

    /// Updates `bias[r]` and `factors[r*k ..< (r+1)*k]` for every row. Returns the sum of
    /// squared residuals after the update when `measureLoss` (else 0). Rows with no ratings
    /// get bias 0 and their prior (or zero) as vector.
    func run(
        rows: Rows,
        fixedFactors: UnsafePointer<Float>, fixedBias: UnsafePointer<Float>,
        bias: UnsafeMutablePointer<Float>, factors: UnsafeMutablePointer<Float>,
        prior: UnsafePointer<Float>?, chunks: ParallelChunks, measureLoss: Bool
    ) throws -> (squaredError: Double, missingSquaredError: Double) {
        let chunkCount = chunks.chunkCount
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: 2 * chunkCount)
        partial.initialize(repeating: 0, count: 2 * chunkCount)
        let failures = UnsafeMutablePointer<Int>.allocate(capacity: chunkCount)
        failures.initialize(repeating: -1, count: chunkCount)
        defer {
            partial.deallocate()
            failures.deallocate()
        }
        let shared = Shared(
            rows: rows, fixedFactors: fixedFactors, fixedBias: fixedBias, bias: bias, factors: factors,
            prior: prior, partial: partial, failures: failures)
        let step = self
        let k = self.k
        BLAS.withThreadCount(1) {
            let blocks = step.solvesInBlocks
            let scratchShape = (
                maxLength: blocks ? blockGatherCapacity(maxLength: rows.maxLength) : rows.maxLength, blockRows: blocks ? Self.blockRows : 0)
            chunks.run(workers: workers, makeScratch: { Scratch(maxLength: scratchShape.maxLength, k: k, blockRows: scratchShape.blockRows) }) { scratch, chunk, range in
                var sum = 0.0, missingSum = 0.0
                if blocks {
                    step.solveRankingRows(range, shared: shared, scratch: scratch, measureLoss: measureLoss, loss: &sum)
                } else {
                    for r in range where !step.solveRow(
                        r, shared: shared, scratch: scratch, measureLoss: measureLoss, loss: &sum, missingLoss: &missingSum) {
                        shared.failures[chunk] = r
                        break
                    }
                }
                shared.partial[2 * chunk] = sum
                shared.partial[2 * chunk + 1] = missingSum
            }
        }
        for c in 0..<chunkCount where failures[c] >= 0 {
            throw ModelError.numerical("the normal matrix of row \(failures[c]) is not positive definite (NaN or infinite values in the data or factors)")
        }
        var total = 0.0, missingTotal = 0.0
        for c in 0..<chunkCount {
            total += partial[2 * c]
            missingTotal += partial[2 * c + 1]
        }
        return (total, missingTotal)
    }

    /// Pointers shared by the workers; each row writes only its own slots.
    struct Shared: @unchecked Sendable {
        var rows: Rows
        var fixedFactors: UnsafePointer<Float>
        var fixedBias: UnsafePointer<Float>
        var bias: UnsafeMutablePointer<Float>
        var factors: UnsafeMutablePointer<Float>
        var prior: UnsafePointer<Float>?
        var partial: UnsafeMutablePointer<Double>
        var failures: UnsafeMutablePointer<Int>
    }

    /// Solves one row: its bias given its current vector, then its vector given the new bias.
    /// False on a numerical failure.
    @inline(__always)
    func solveRow(_ r: Int, shared s: Shared, scratch: Scratch, measureLoss: Bool, loss: inout Double, missingLoss: inout Double) -> Bool {
        let start = s.rows.offsets[r]
        let n = s.rows.offsets[r + 1] - start
        let x = s.factors + r * k
        if n == 0 {
            s.bias[r] = 0
            if let prior = s.prior { x.update(from: prior + r * k, count: k) } else { x.update(repeating: 0, count: k) }
            return true
        }
        if ranking { return solveRankingRow(r, start: start, count: n, shared: s, scratch: scratch, measureLoss: measureLoss, loss: &loss) }
        let values = s.rows.values + start
        gather(s, columns: s.rows.columns + start, values: values, count: n, into: scratch)
        let b = solveBias(x, values: values, count: n, scratch: scratch)
        s.bias[r] = b
        let e = scratch.targets
        for j in 0..<n { e[j] -= b }
        guard k > 0 else {
            if measureLoss { var l = 0.0; for j in 0..<n { l += Double(e[j] * e[j]) }; loss += l }
            return true
        }
        let l = alpha == 0 ? lambda : lambda * Float(pow(Double(n), Double(alpha)))
        buildNormalMatrix(count: n, regularisation: l, scratch: scratch)
        buildRightHandSide(bias: b, values: values, count: n, regularisation: l, prior: s.prior.map { $0 + r * k }, scratch: scratch)
        do {
            try Cholesky.solveInPlace(order: k, matrix: scratch.normal, rightHandSides: scratch.rhs)
        } catch {
            return false
        }
        x.update(from: scratch.rhs, count: k)
        if measureLoss { addLoss(x, values: values, count: n, scratch: scratch, loss: &loss, missingLoss: &missingLoss) }
        return true
    }

    /// Residual targets `e_j = r_j - mu - b_(c_j)` into `scratch.targets` and the fixed vectors
    /// `y_j` into the contiguous `n x k` `scratch.gathered`.
    @inline(__always)
    private func gather(_ s: Shared, columns: UnsafePointer<Int32>, values: UnsafePointer<Float>, count n: Int, into scratch: Scratch) {
        let g = scratch.gathered, e = scratch.targets
        for j in 0..<n {
            let c = Int(columns[j])
            e[j] = values[j] - globalMean - s.fixedBias[c]
            if k > 0 { (g + j * k).update(from: s.fixedFactors + c * k, count: k) }
        }
    }

    /// The row's bias given its current vector `x` (eq. (1)); with the missing-data term the
    /// unrated columns count too.
    @inline(__always)
    private func solveBias(_ x: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>, count n: Int, scratch: Scratch) -> Float {
        let g = scratch.gathered, e = scratch.targets, t = scratch.products
        if k > 0 { BLAS.gemv(rows: n, columns: k, matrix: g, vector: x, result: t) }
        var sum: Float = 0
        if k > 0 { for j in 0..<n { sum += e[j] - t[j] } } else { for j in 0..<n { sum += e[j] } }
        guard let missing else { return sum / (Float(n) + gamma) }
        // Unrated pairs: w * sum_(all j) (t_j - x.y_j) minus the rated ones' share.
        let w = missing.weight
        var allProducts: Float = 0
        for d in 0..<k { allProducts += missing.vectors[d] * x[d] }
        var shift: Float = 0
        for j in 0..<n { shift += values[j] - missing.rating }
        let numerator = w * (missing.targets - allProducts) + sum - w * (sum - shift)
        return numerator / (w * Float(missing.count) + (1 - w) * Float(n) + gamma)
    }

    /// `sum_j y_j y_j^T + l I` (weighted, plus the missing-data Gram matrix when on), upper
    /// triangle, into `scratch.normal`.
    @inline(__always)
    private func buildNormalMatrix(count n: Int, regularisation l: Float, scratch: Scratch) {
        let a = scratch.normal, g = scratch.gathered
        let observedWeight: Float = missing.map { 1 - $0.weight } ?? 1
        if let missing {
            for i in 0..<(k * k) { a[i] = missing.weight * missing.gram[i] }
        } else if n <= handLoopLimit {
            a.update(repeating: 0, count: k * k)
        }
        if n <= handLoopLimit {
            for j in 0..<n {
                let y = g + j * k
                for col in 0..<k {
                    let yc = y[col] * observedWeight
                    let column = a + col * k
                    for row in 0...col { column[row] += y[row] * yc }
                }
            }
        } else {
            BLAS.gramUpper(vectors: g, count: n, dimension: k, alpha: observedWeight, beta: missing == nil ? 0 : 1, result: a)
        }
        for d in 0..<k { a[d * k + d] += l }
    }

    /// `sum_j y_j (e_j - b) + l * prior` (eq. (2)) into `scratch.rhs`; `scratch.targets`
    /// already holds `e_j - b`.
    @inline(__always)
    private func buildRightHandSide(
        bias b: Float, values: UnsafePointer<Float>, count n: Int, regularisation l: Float,
        prior: UnsafePointer<Float>?, scratch: Scratch
    ) {
        let g = scratch.gathered, e = scratch.targets, t = scratch.products, rhs = scratch.rhs
        if let missing {
            // Observed rows weigh (1 - w)(e_j - b) + w (r_j - r_m); all rows add w (sum t y - b sum y).
            let w = missing.weight
            for j in 0..<n { t[j] = (1 - w) * e[j] + w * (values[j] - missing.rating) }
            BLAS.gemvTransposed(rows: n, columns: k, matrix: g, vector: t, result: rhs)
            for d in 0..<k { rhs[d] += w * (missing.weightedVectors[d] - b * missing.vectors[d]) }
        } else {
            BLAS.gemvTransposed(rows: n, columns: k, matrix: g, vector: e, result: rhs)
        }
        if let prior {
            for d in 0..<k { rhs[d] += l * prior[d] }
        }
    }

    /// Adds the row's squared residuals after the update (and those against the missing
    /// rating, for the missing-data term's share of the objective).
    @inline(__always)
    private func addLoss(
        _ x: UnsafeMutablePointer<Float>, values: UnsafePointer<Float>, count n: Int, scratch: Scratch,
        loss: inout Double, missingLoss: inout Double
    ) {
        let e = scratch.targets, t = scratch.products
        BLAS.gemv(rows: n, columns: k, matrix: scratch.gathered, vector: x, result: t)
        var l = 0.0, lm = 0.0
        let missingRating = missing?.rating
        for j in 0..<n {
            let d = e[j] - t[j]
            l += Double(d * d)
            if let missingRating {
                let dm = d - (values[j] - missingRating)
                lm += Double(dm * dm)
            }
        }
        loss += l
        missingLoss += lm
    }
}
