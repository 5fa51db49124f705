import Foundation

extension ALSHalfStep {
    /// One row of the ranking objective (implicit-feedback ALS; Hu, Koren and Volinsky 2008,
    /// Rendle et al. 2021): with the row's rated columns `j` (confidence `c_j`, fixed vector
    /// `y_j`), the all-pairs weight `w = alpha_0` and the fixed side's Gram matrix `G`,
    ///
    ///     (w G + sum_j c_j y_j y_j^T + l I) x = sum_j c_j y_j + l * prior,
    ///     l = lambda * (n + w N)^alpha,
    ///
    /// `N` the fixed side's rated rows. The rows `sqrt(c_j) y_j` are gathered contiguously so
    /// one `ssyrk` adds the weighted outer products and Cholesky solves exactly (with
    /// ``conjugateGradientSteps`` the rows go to ``solveRankingRows`` instead). Bias stays 0.
    /// With `measureLoss` adds `sum_j c_j (1 - x . y_j)^2`. False on a numerical failure.
    @inline(__always)
    func solveRankingRow(
        _ r: Int, start: Int, count n: Int, shared s: Shared, scratch: Scratch, measureLoss: Bool, loss: inout Double
    ) -> Bool {
        guard let missing else { return false }
        let g = scratch.gathered, t = scratch.targets, rhs = scratch.rhs
        let columns = s.rows.columns + start, values = s.rows.values + start
        for j in 0..<n {
            let root = values[j].squareRoot()
            t[j] = root
            let row = g + j * k, y = s.fixedFactors + Int(columns[j]) * k
            for d in 0..<k { row[d] = root * y[d] }
        }
        s.bias[r] = 0
        let w = missing.weight
        let count = Float(n) + w * Float(missing.count)
        let l = alpha == 0 ? lambda : lambda * Float(pow(Double(count), Double(alpha)))
        BLAS.gemvTransposed(rows: n, columns: k, matrix: g, vector: t, result: rhs)
        if let prior = s.prior {
            let p = prior + r * k
            for d in 0..<k { rhs[d] += l * p[d] }
        }
        let x = s.factors + r * k
        let solved = missing.gram.withUnsafeBufferPointer { gram -> Bool in
            guard let gram = gram.baseAddress else { return false }
            guard solveExactly(gram: gram, weight: w, rows: g, count: n, regularisation: l, scratch: scratch) else { return false }
            x.update(from: rhs, count: k)
            return true
        }
        guard solved else { return false }
        if measureLoss {
            let products = scratch.products
            BLAS.gemv(rows: n, columns: k, matrix: g, vector: x, result: products)
            var sum = 0.0
            for j in 0..<n {
                let e = Double(t[j] - products[j])
                sum += e * e
            }
            loss += sum
        }
        return true
    }

    /// Forms `A = w G + g^T g + l I` (upper triangle; a hand loop for very short rows) and
    /// solves `A x = b` in place in `scratch.rhs` by Cholesky. False on a numerical failure.
    private func solveExactly(
        gram: UnsafePointer<Float>, weight w: Float, rows g: UnsafePointer<Float>, count n: Int, regularisation l: Float,
        scratch: Scratch
    ) -> Bool {
        let a = scratch.normal
        for i in 0..<(k * k) { a[i] = w * gram[i] }
        if n <= handLoopLimit {
            for j in 0..<n {
                let y = g + j * k
                for col in 0..<k {
                    let column = a + col * k
                    for row in 0...col { column[row] += y[row] * y[col] }
                }
            }
        } else {
            BLAS.gramUpper(vectors: g, count: n, dimension: k, beta: 1, result: a)
        }
        for d in 0..<k { a[d * k + d] += l }
        do {
            try Cholesky.solveInPlace(order: k, matrix: a, rightHandSides: scratch.rhs)
        } catch {
            return false
        }
        return true
    }
}
