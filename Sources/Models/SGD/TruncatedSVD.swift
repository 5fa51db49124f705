import COpenBLAS
import Dispatch

/// Truncated SVD of a sparse matrix by randomized subspace iteration (Halko, Martinsson and
/// Tropp): only sparse products and small dense `l x l` problems (sgemm, ssyevd), never the
/// dense users x movies matrix. Used for seed 004's initialisation.
enum TruncatedSVD {
    struct Factors {
        /// `users x rank`, row-major: `U sqrt(S)`.
        var userFactors: [Float]
        /// `movies x rank`, row-major: `V sqrt(S)`.
        var movieFactors: [Float]
        /// Leading singular values, descending.
        var singularValues: [Float]
    }

    /// The rank-`rank` SVD of `X = r - mean - b_u - b_i` on the rated entries (zero elsewhere:
    /// the missing ratings imputed with the baseline prediction).
    static func residual(
        _ x: SparseRatings, mean: Float, userBias: [Float], movieBias: [Float], rank: Int,
        powerIterations: Int, seed: UInt64
    ) throws -> Factors {
        let nu = x.userCount, nm = x.movieCount
        // Residual values in both orientations.
        var rowValues = x.userRatings
        for u in 0..<nu { for j in x.userRange(u) { rowValues[j] -= mean + userBias[u] + movieBias[Int(x.userMovies[j])] } }
        var colValues = x.movieRatings
        for m in 0..<nm { for j in x.movieRange(m) { colValues[j] -= mean + userBias[Int(x.movieUsers[j])] + movieBias[m] } }
        let l = max(1, min(rank + 8, min(nu, nm)))
        var rng = SeededRandom(seed: seed &+ 0x5FD)
        var omega = (0..<(nm * l)).map { _ in Float(rng.nextGaussian()) }
        // Y = X Omega (users x l), Z = X^T Y (movies x l).
        var y = multiply(offsets: x.userOffsets, columns: x.userMovies, values: rowValues, rows: nu, dense: omega, width: l)
        try orthonormalise(&y, rows: nu, width: l)
        for _ in 0..<powerIterations {
            var z = multiply(offsets: x.movieOffsets, columns: x.movieUsers, values: colValues, rows: nm, dense: y, width: l)
            try orthonormalise(&z, rows: nm, width: l)
            y = multiply(offsets: x.userOffsets, columns: x.userMovies, values: rowValues, rows: nu, dense: z, width: l)
            try orthonormalise(&y, rows: nu, width: l)
        }
        omega = []
        // B = Y^T X (l x movies); Z = B^T. B B^T = Z^T Z = W diag(s^2) W^T.
        let z = multiply(offsets: x.movieOffsets, columns: x.movieUsers, values: colValues, rows: nm, dense: y, width: l)
        var gram = [Float](repeating: 0, count: l * l)
        z.withUnsafeBufferPointer { zb in
            gram.withUnsafeMutableBufferPointer { g in
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(l), Int32(l), Int32(nm), 1,
                            zb.baseAddress, Int32(l), zb.baseAddress, Int32(l), 0, g.baseAddress, Int32(l))
            }
        }
        let (eigenvalues, eigenvectors) = try symmetricEigen(gram, n: l)  // ascending; columns in row-major [i * l + j] = v_j[i]
        let r = min(rank, l)
        var sigma = [Float](repeating: 0, count: rank)
        var userFactors = [Float](repeating: 0, count: nu * rank)
        var movieFactors = [Float](repeating: 0, count: nm * rank)
        for c in 0..<r {
            let j = l - 1 - c  // descending
            let s = max(eigenvalues[j], 0).squareRoot()
            sigma[c] = s
            guard s > 1e-6 else { continue }
            let root = s.squareRoot()
            // u_c = Y w_j ; v_c = Z w_j / s. Factors: u_c * sqrt(s), v_c * sqrt(s) = Z w_j / sqrt(s).
            for u in 0..<nu {
                var acc: Float = 0
                for i in 0..<l { acc += y[u * l + i] * eigenvectors[i * l + j] }
                userFactors[u * rank + c] = acc * root
            }
            for m in 0..<nm {
                var acc: Float = 0
                for i in 0..<l { acc += z[m * l + i] * eigenvectors[i * l + j] }
                movieFactors[m * rank + c] = acc / root
            }
        }
        return Factors(userFactors: userFactors, movieFactors: movieFactors, singularValues: sigma)
    }

    /// Sparse (CSR) times dense `columns x width`: result `rows x width`, rows in parallel.
    static func multiply(offsets: [Int], columns: [Int32], values: [Float], rows: Int, dense: [Float], width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * width)
        let chunks = 16
        offsets.withUnsafeBufferPointer { off in
            columns.withUnsafeBufferPointer { col in
                values.withUnsafeBufferPointer { val in
                    dense.withUnsafeBufferPointer { d in
                        out.withUnsafeMutableBufferPointer { o in
                            guard let ob = o.baseAddress, let db = d.baseAddress, let offb = off.baseAddress,
                                  let colb = col.baseAddress, let valb = val.baseAddress else { return }
                            let shared = SVDShared(out: ob, dense: db, offsets: offb, columns: colb, values: valb)
                            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                                for r in (rows * c / chunks) ..< (rows * (c + 1) / chunks) {
                                    let target = shared.out + r * width
                                    for j in shared.offsets[r] ..< shared.offsets[r + 1] {
                                        let v = shared.values[j]
                                        let source = shared.dense + Int(shared.columns[j]) * width
                                        for i in 0..<width { target[i] += v * source[i] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Makes the columns of `a` (`rows x width`, row-major) orthonormal: twice `A <- A V L^-1/2`
    /// from the eigen-decomposition of `A^T A` (Cholesky-QR-like, stable enough repeated).
    static func orthonormalise(_ a: inout [Float], rows: Int, width: Int) throws {
        for _ in 0..<2 {
            var gram = [Float](repeating: 0, count: width * width)
            a.withUnsafeBufferPointer { ab in
                gram.withUnsafeMutableBufferPointer { g in
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(width), Int32(width), Int32(rows), 1,
                                ab.baseAddress, Int32(width), ab.baseAddress, Int32(width), 0, g.baseAddress, Int32(width))
                }
            }
            let (values, vectors) = try symmetricEigen(gram, n: width)
            let top = values.last ?? 0
            var transform = [Float](repeating: 0, count: width * width)
            for j in 0..<width where values[j] > top * 1e-10 && values[j] > 0 {
                let scale = 1 / values[j].squareRoot()
                for i in 0..<width { transform[i * width + j] = vectors[i * width + j] * scale }
            }
            var result = [Float](repeating: 0, count: rows * width)
            a.withUnsafeBufferPointer { ab in
                transform.withUnsafeBufferPointer { t in
                    result.withUnsafeMutableBufferPointer { r in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(width), Int32(width), 1,
                                    ab.baseAddress, Int32(width), t.baseAddress, Int32(width), 0, r.baseAddress, Int32(width))
                    }
                }
            }
            a = result
        }
    }

    /// Eigenvalues (ascending) and eigenvectors of a symmetric `n x n` matrix (LAPACK ssyevd);
    /// eigenvector `j` is `vectors[i * n + j]` for `i in 0..<n`.
    static func symmetricEigen(_ matrix: [Float], n: Int) throws -> ([Float], [Float]) {
        // Symmetric, so row-major equals column-major. LAPACK leaves column-major eigenvectors:
        // column j at [j * n + i]; transpose for the row-major convention above.
        var a = matrix
        var w = [Float](repeating: 0, count: n)
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery: Float = 0
        var iworkQuery: Int32 = 0
        let jobz: CChar = 86 /* V */, uplo: CChar = 85 /* U */
        var jz = jobz, up = uplo
        ssyevd_(&jz, &up, &nn, &a, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        guard info == 0 else { throw ModelError.numerical("ssyevd workspace query failed (info \(info))") }
        lwork = Int32(workQuery)
        liwork = iworkQuery
        var work = [Float](repeating: 0, count: Int(max(lwork, 1)))
        var iwork = [Int32](repeating: 0, count: Int(max(liwork, 1)))
        ssyevd_(&jz, &up, &nn, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw ModelError.numerical("symmetric eigen-decomposition failed (ssyevd info \(info))") }
        var vectors = [Float](repeating: 0, count: n * n)
        for j in 0..<n { for i in 0..<n { vectors[i * n + j] = a[j * n + i] } }
        return (w, vectors)
    }
}

/// Raw pointers for the parallel sparse product. `@unchecked Sendable`: workers write disjoint rows of `out`.
struct SVDShared: @unchecked Sendable {
    let out: UnsafeMutablePointer<Float>
    let dense: UnsafePointer<Float>
    let offsets: UnsafePointer<Int>
    let columns: UnsafePointer<Int32>
    let values: UnsafePointer<Float>
}
