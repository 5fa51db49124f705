import Foundation

extension ALSHalfStep {
    /// Rows whose conjugate-gradient solves advance together (``solveRankingRows``).
    static let blockRows = 64

    /// Whether the half-step solves its rows by conjugate gradient, in blocks.
    var solvesInBlocks: Bool { ranking && conjugateGradientSteps > 0 && missing != nil }

    /// The ranking objective's rows (see ``solveRankingRow``) by ``conjugateGradientSteps``
    /// conjugate-gradient steps on their normal equations `A x = b`, starting from each row's
    /// current vector, as Takács, Pilászy and Tikk propose for implicit feedback
    /// ("Applications of the conjugate gradient method for implicit feedback collaborative
    /// filtering", 2011) and `implicit` does. `A` is never formed: `A v = w G v + sum_j c_j
    /// (y_j . v) y_j + l v`. A step costs `O(k^2 + n k)` against the exact solve's
    /// `O(n k^2 + k^3)`, and each lowers the row's objective.
    ///
    /// The rows of `range` go through in blocks of ``blockRows``: the products `w D G` of a
    /// block's search directions `D` are one `sgemm`, where one `ssymv` per row spent more
    /// time in call overhead than in arithmetic at `k = 64`. Each row takes the steps it would
    /// take alone.
    func solveRankingRows(_ range: Range<Int>, shared s: Shared, scratch: Scratch, measureLoss: Bool, loss: inout Double) {
        guard let missing else { return }
        missing.gram.withUnsafeBufferPointer { gram in
            guard let gram = gram.baseAddress else { return }
            var first = range.lowerBound
            while first < range.upperBound {
                let block = first ..< min(first + Self.blockRows, range.upperBound)
                solveRankingBlock(block, gram: gram, weight: missing.weight, count: missing.count, shared: s, scratch: scratch)
                if measureLoss { loss += rankingLoss(block, shared: s) }
                first = block.upperBound
            }
        }
    }

    /// One block: right-hand sides and penalties, then the steps in lockstep; a row leaves
    /// the lockstep when its residual vanishes or its curvature is not positive.
    private func solveRankingBlock(
        _ block: Range<Int>, gram: UnsafePointer<Float>, weight w: Float, count others: Int, shared s: Shared, scratch: Scratch
    ) {
        let b = scratch.block
        let x = s.factors + block.lowerBound * k
        prepareBlock(block, count: others, shared: s, scratch: b)
        multiply(block, x, gram: gram, weight: w, shared: s, scratch: b)
        for i in 0..<block.count where b.active[i] {
            let row = i * k
            for d in 0..<k {
                b.residual[row + d] = b.rhs[row + d] - b.product[row + d]
                b.direction[row + d] = b.residual[row + d]
            }
            b.squared[i] = VectorKernels.dot(b.residual + row, b.residual + row, count: k)
        }
        for _ in 0..<conjugateGradientSteps {
            var any = false
            for i in 0..<block.count where b.active[i] {
                b.active[i] = b.squared[i] > 1e-20
                any = any || b.active[i]
            }
            guard any else { return }
            multiply(block, b.direction, gram: gram, weight: w, shared: s, scratch: b)
            for i in 0..<block.count where b.active[i] {
                b.active[i] = step(x + i * k, row: i * k, squared: &b.squared[i], scratch: b)
            }
        }
    }

    /// One step of row `row / k` of the block; false when its curvature is not positive.
    @inline(__always)
    private func step(_ x: UnsafeMutablePointer<Float>, row: Int, squared: inout Float, scratch b: BlockScratch) -> Bool {
        let d = b.direction + row, p = b.product + row, r = b.residual + row
        let curvature = VectorKernels.dot(d, p, count: k)
        guard curvature > 0, curvature.isFinite else { return false }
        let length = squared / curvature
        for e in 0..<k {
            x[e] += length * d[e]
            r[e] -= length * p[e]
        }
        let next = VectorKernels.dot(r, r, count: k)
        let keep = next / squared
        for e in 0..<k { d[e] = r[e] + keep * d[e] }
        squared = next
        return true
    }

    /// Each row's `b = sum_j c_j y_j + l * prior` and penalty `l`; rows without ratings take
    /// their prior (or zero) and leave the lockstep at once.
    private func prepareBlock(_ block: Range<Int>, count others: Int, shared s: Shared, scratch b: BlockScratch) {
        for (i, r) in block.enumerated() {
            let start = s.rows.offsets[r], n = s.rows.offsets[r + 1] - start
            let x = s.factors + r * k, rhs = b.rhs + i * k
            s.bias[r] = 0
            b.active[i] = n > 0
            guard n > 0 else {
                if let prior = s.prior { x.update(from: prior + r * k, count: k) } else { x.update(repeating: 0, count: k) }
                continue
            }
            let count = Float(n) + (missing?.weight ?? 0) * Float(others)
            let l = alpha == 0 ? lambda : lambda * Float(pow(Double(count), Double(alpha)))
            b.penalty[i] = l
            rhs.update(repeating: 0, count: k)
            for p in start ..< start + n {
                VectorKernels.axpy(s.rows.values[p], s.fixedFactors + Int(s.rows.columns[p]) * k, into: rhs, count: k)
            }
            if let prior = s.prior { VectorKernels.axpy(l, prior + r * k, into: rhs, count: k) }
        }
    }

    /// `A_i v_i` into `b.product` for the block's active rows: `w V G` by one `sgemm` (`G` is
    /// symmetric and stored whole), then each row's rated pairs and penalty.
    private func multiply(
        _ block: Range<Int>, _ v: UnsafePointer<Float>, gram: UnsafePointer<Float>, weight w: Float, shared s: Shared,
        scratch b: BlockScratch
    ) {
        let out = b.product
        BLAS.gemm(m: block.count, n: k, k: k, alpha: w, a: v, b: gram, c: out)
        for (i, r) in block.enumerated() where b.active[i] {
            let vi = v + i * k, oi = out + i * k
            for p in s.rows.offsets[r] ..< s.rows.offsets[r + 1] {
                let y = s.fixedFactors + Int(s.rows.columns[p]) * k
                VectorKernels.axpy(s.rows.values[p] * VectorKernels.dot(y, vi, count: k), y, into: oi, count: k)
            }
            VectorKernels.axpy(b.penalty[i], vi, into: oi, count: k)
        }
    }

    /// `sum_j c_j (1 - x . y_j)^2` over the block's rated pairs.
    private func rankingLoss(_ block: Range<Int>, shared s: Shared) -> Double {
        var sum = 0.0
        for r in block {
            let x = s.factors + r * k
            for p in s.rows.offsets[r] ..< s.rows.offsets[r + 1] {
                let e = Double(1 - VectorKernels.dot(x, s.fixedFactors + Int(s.rows.columns[p]) * k, count: k))
                sum += Double(s.rows.values[p]) * e * e
            }
        }
        return sum
    }

    /// A worker's buffers for one block: `blockRows x k` row-major matrices and a value per row.
    struct BlockScratch {
        /// The rows' right-hand sides, residuals, search directions and `A` times a vector.
        let rhs, residual, direction, product: UnsafeMutablePointer<Float>
        /// Each row's penalty `l` and squared residual norm.
        let penalty, squared: UnsafeMutablePointer<Float>
        /// Whether the row still takes steps.
        let active: UnsafeMutablePointer<Bool>

        init(rows: Int, k: Int) {
            let size = max(rows * k, 1)
            (rhs, residual, direction, product) = (.allocate(capacity: size), .allocate(capacity: size), .allocate(capacity: size), .allocate(capacity: size))
            (penalty, squared) = (.allocate(capacity: max(rows, 1)), .allocate(capacity: max(rows, 1)))
            active = .allocate(capacity: max(rows, 1))
        }

        func deallocate() {
            for buffer in [rhs, residual, direction, product, penalty, squared] { buffer.deallocate() }
            active.deallocate()
        }
    }
}
