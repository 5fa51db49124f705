import Foundation

extension FactorModel {
    /// A user of an "ials" model (ALS with the ranking objective) solved as its training solves
    /// them: with the movies rated at or above the positive threshold (confidence `c_j`), all
    /// movies' Gram matrix `G` from `sums` and `N` the model's movies,
    ///
    ///     (alpha_0 G + sum_j c_j q_j q_j^T + l I) p = sum_j c_j q_j,   l = lambda (n + alpha_0 N)^exponent.
    ///
    /// Training counted only movies with training ratings in `G` and `N`, so catalogue-only
    /// movies make a small difference. No positives: a zero vector.
    func rankingFoldIn(
        movieIndices: [Int32], ratings: [Float], regularization reg: FoldInRegularization,
        ranking: FoldInRegularization.Ranking, sums: FoldInContext
    ) throws -> [Float] {
        var rows: [Float] = [], roots: [Float] = []
        rows.reserveCapacity(ratings.count * k)
        roots.reserveCapacity(ratings.count)
        for (m, rating) in zip(movieIndices.map(Int.init), ratings) {
            guard m >= 0, m < movies.count else {
                throw ModelError.invalidParameter(name: "movieIndices", value: "\(m)", requirement: "in 0..<\(movies.count)")
            }
            guard rating.isFinite else { throw ModelError.invalidRating(movieID: movies.ids[m], rating: rating) }
            guard rating >= ranking.positiveThreshold else { continue }
            let root = (1 + ranking.confidenceWeight * rating).squareRoot()
            roots.append(root)
            for d in 0..<k { rows.append(root * movieFactors[m * k + d]) }
        }
        let n = roots.count
        guard n > 0, k > 0 else { return [Float](repeating: 0, count: k) }
        let w = ranking.unobservedWeight
        var normal = sums.gram.map { w * $0 }
        var rhs = [Float](repeating: 0, count: k)
        let count = Double(n) + Double(w) * Double(sums.count)
        let l = reg.exponent == 0 ? reg.lambda : reg.lambda * Float(pow(count, Double(reg.exponent)))
        try Self.solveNormalEquations(design: rows, targets: roots, normal: &normal, rhs: &rhs, what: "\(n) positives") { xb, tb, ab, bb in
            BLAS.gramUpper(vectors: xb, count: n, dimension: k, beta: 1, result: ab)
            for d in 0..<k { ab[d * k + d] += l }
            BLAS.gemvTransposed(rows: n, columns: k, matrix: xb, vector: tb, result: bb)
        }
        return rhs
    }
}
