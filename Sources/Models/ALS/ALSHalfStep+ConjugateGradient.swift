import Foundation

extension ALSHalfStep {
    /// Rows whose conjugate-gradient solves advance together (``solveRankingRows``).
    static let blockRows = 64
    /// Floats of gathered vectors a block may hold (1 MiB, within a core's L2 cache); a longer
    /// row makes a block of its own.
    static let blockGatherFloats = 1 << 18

    /// Whether the half-step solves its rows by conjugate gradient, in blocks.
    var solvesInBlocks: Bool { ranking && conjugateGradientSteps > 0 && missing != nil }

    /// Ratings a worker's gather buffer must hold for blocks of rows at most `maxLength` long.
    func blockGatherCapacity(maxLength: Int) -> Int { max(maxLength, Self.blockGatherFloats / max(k, 1)) }

    /// The ranking objective's rows (see ``solveRankingRow``) by ``conjugateGradientSteps``
    /// conjugate-gradient steps on their normal equations `A x = b`, starting from each row's
    /// current vector, as Takács, Pilászy and Tikk propose for implicit feedback
    /// ("Applications of the conjugate gradient method for implicit feedback collaborative
    /// filtering", 2011) and `implicit` does. `A` is never formed: `A v = w G v + sum_j c_j
    /// (y_j . v) y_j + l v`. A step costs `O(k^2 + n k)` against the exact solve's
    /// `O(n k^2 + k^3)`, and each lowers the row's objective.
    ///
    /// The rows of `range` go through in blocks of up to ``blockRows``: the products `w D G`
    /// of a block's search directions `D` are one `sgemm`, where one `ssymv` per row spent
    /// more time in call overhead than in arithmetic at `k = 64`. Each row's `sqrt(c_j) y_j`
    /// are gathered once, contiguously, so the steps read them from cache (at 32M ratings
    /// the fixed side's vectors do not fit there). Each row takes the steps it would take alone.
    func solveRankingRows(_ range: Range<Int>, shared s: Shared, scratch: Scratch, measureLoss: Bool, loss: inout Double) {
        guard let missing else { return }
        let budget = blockGatherCapacity(maxLength: 0)
        missing.gram.withUnsafeBufferPointer { gram in
            guard let gram = gram.baseAddress else { return }
            var first = range.lowerBound
            while first < range.upperBound {
                var last = first, gathered = 0
                while last < range.upperBound, last - first < Self.blockRows {
                    let n = s.rows.offsets[last + 1] - s.rows.offsets[last]
                    if last > first, gathered + n > budget { break }
                    gathered += n
                    last += 1
                }
                solveRankingBlock(first ..< last, gram: gram, weight: missing.weight, count: missing.count, shared: s, scratch: scratch)
                if measureLoss { loss += rankingLoss(first ..< last, shared: s, scratch: scratch) }
                first = last
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
        prepareBlock(block, weight: w, count: others, shared: s, scratch: scratch)
        multiply(block, x, gram: gram, weight: w, scratch: scratch)
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
            multiply(block, b.direction, gram: gram, weight: w, scratch: scratch)
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

    /// Gathers each row's `sqrt(c_j) y_j` (and `sqrt(c_j)`) after the previous row's, and
    /// sets its `b = sum_j c_j y_j + l * prior` and penalty `l`; rows without ratings take
    /// their prior (or zero) and leave the lockstep at once.
    private func prepareBlock(_ block: Range<Int>, weight w: Float, count others: Int, shared s: Shared, scratch: Scratch) {
        let b = scratch.block, g = scratch.gathered, t = scratch.targets
        var position = 0
        for (i, r) in block.enumerated() {
            let start = s.rows.offsets[r], n = s.rows.offsets[r + 1] - start
            let x = s.factors + r * k, rhs = b.rhs + i * k
            b.starts[i] = position
            b.starts[i + 1] = position + n
            s.bias[r] = 0
            b.active[i] = n > 0
            guard n > 0 else {
                if let prior = s.prior { x.update(from: prior + r * k, count: k) } else { x.update(repeating: 0, count: k) }
                continue
            }
            rhs.update(repeating: 0, count: k)
            for j in 0..<n {
                let root = s.rows.values[start + j].squareRoot(), row = g + (position + j) * k
                let y = s.fixedFactors + Int(s.rows.columns[start + j]) * k
                t[position + j] = root
                for d in 0..<k { row[d] = root * y[d] }
                VectorKernels.axpy(root, row, into: rhs, count: k)
            }
            position += n
            let count = Float(n) + w * Float(others)
            let l = alpha == 0 ? lambda : lambda * Float(pow(Double(count), Double(alpha)))
            b.penalty[i] = l
            if let prior = s.prior { VectorKernels.axpy(l, prior + r * k, into: rhs, count: k) }
        }
    }

    /// `A_i v_i` into `b.product` for the block's active rows: `w V G` by one `sgemm` (`G` is
    /// symmetric and stored whole), then each row's gathered pairs and penalty.
    private func multiply(_ block: Range<Int>, _ v: UnsafePointer<Float>, gram: UnsafePointer<Float>, weight w: Float, scratch: Scratch) {
        let b = scratch.block, g = scratch.gathered
        BLAS.gemm(m: block.count, n: k, k: k, alpha: w, a: v, b: gram, c: b.product)
        for i in 0..<block.count where b.active[i] {
            let vi = v + i * k, out = b.product + i * k
            for j in b.starts[i] ..< b.starts[i + 1] {
                let row = g + j * k
                VectorKernels.axpy(VectorKernels.dot(row, vi, count: k), row, into: out, count: k)
            }
            VectorKernels.axpy(b.penalty[i], vi, into: out, count: k)
        }
    }

    /// `sum_j c_j (1 - x . y_j)^2` over the block's rated pairs, from the gathered rows.
    private func rankingLoss(_ block: Range<Int>, shared s: Shared, scratch: Scratch) -> Double {
        let b = scratch.block, g = scratch.gathered, t = scratch.targets
        var sum = 0.0
        for (i, r) in block.enumerated() {
            let x = s.factors + r * k
            for j in b.starts[i] ..< b.starts[i + 1] {
                let e = Double(t[j] - VectorKernels.dot(x, g + j * k, count: k))
                sum += e * e
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
        /// Row `i`'s gathered vectors are rows `starts[i] ..< starts[i + 1]` of the gather buffer.
        let starts: UnsafeMutablePointer<Int>

        init(rows: Int, k: Int) {
            let size = max(rows * k, 1)
            (rhs, residual, direction, product) = (.allocate(capacity: size), .allocate(capacity: size), .allocate(capacity: size), .allocate(capacity: size))
            (penalty, squared) = (.allocate(capacity: max(rows, 1)), .allocate(capacity: max(rows, 1)))
            active = .allocate(capacity: max(rows, 1))
            starts = .allocate(capacity: rows + 1)
        }

        func deallocate() {
            for buffer in [rhs, residual, direction, product, penalty, squared] { buffer.deallocate() }
            active.deallocate()
            starts.deallocate()
        }
    }
}
