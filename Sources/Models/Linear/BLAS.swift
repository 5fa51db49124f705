import COpenBLAS

/// Thin wrappers over the CBLAS routines the models use. Matrices are row-major unless a
/// function says otherwise; pointers must address at least the stated number of elements.
package enum BLAS {
    /// `y = alpha * A x + beta * y` with `A` row-major `rows x columns`.
    @inlinable
    package static func gemv(
        rows: Int, columns: Int, alpha: Float = 1, matrix a: UnsafePointer<Float>,
        vector x: UnsafePointer<Float>, beta: Float = 0, result y: UnsafeMutablePointer<Float>
    ) {
        matrixVector(CblasNoTrans, rows: rows, columns: columns, outputs: rows, alpha: alpha, a, x, beta: beta, y)
    }

    /// `y = alpha * A^T x + beta * y` with `A` row-major `rows x columns` (so `y` has `columns` entries).
    @inlinable
    package static func gemvTransposed(
        rows: Int, columns: Int, alpha: Float = 1, matrix a: UnsafePointer<Float>,
        vector x: UnsafePointer<Float>, beta: Float = 0, result y: UnsafeMutablePointer<Float>
    ) {
        matrixVector(CblasTrans, rows: rows, columns: columns, outputs: columns, alpha: alpha, a, x, beta: beta, y)
    }

    /// `sgemv` with its empty cases: nothing to write without outputs; without inputs the
    /// product is zero, so `y = beta * y` (BLAS leaves such calls undefined).
    @inlinable
    static func matrixVector(
        _ operation: CBLAS_TRANSPOSE, rows: Int, columns: Int, outputs: Int, alpha: Float,
        _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, beta: Float, _ y: UnsafeMutablePointer<Float>
    ) {
        guard outputs > 0 else { return }
        guard rows > 0, columns > 0 else {
            if beta == 0 { y.update(repeating: 0, count: outputs) } else if beta != 1 { for i in 0..<outputs { y[i] *= beta } }
            return
        }
        cblas_sgemv(CblasRowMajor, operation, Int32(rows), Int32(columns), alpha, a, Int32(columns), x, 1, beta, y, 1)
    }

    /// `C = alpha * A B^T + beta * C` with `A` row-major `m x k`, `B` row-major `n x k` and
    /// `C` row-major `m x n`: scores of `m` rows against `n` rows.
    @inlinable
    package static func gemmABt(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        beta: Float = 0, c: UnsafeMutablePointer<Float>
    ) {
        gemm(m: m, n: n, k: k, alpha: alpha, a: a, b: b, transposeB: true, beta: beta, c: c)
    }

    /// `C = alpha * op(A) op(B) + beta * C`, all row-major, where `op(X)` is `X` or its
    /// transpose: `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`. The general form the
    /// neural layers need (forward `H W`, backward `H^T G` and `G W^T`).
    @inlinable
    package static func gemm(
        m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, transposeA: Bool = false,
        b: UnsafePointer<Float>, transposeB: Bool = false, beta: Float = 0, c: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if beta == 0 { c.update(repeating: 0, count: m * n) } else if beta != 1 { for i in 0..<(m * n) { c[i] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k),
                    b, Int32(transposeB ? k : n), beta, c, Int32(n))
    }

    /// Gram matrix of `n` row vectors of length `k` stored row-major in `x` (`n x k`):
    /// `C = alpha * X^T X + beta * C`, written to the upper triangle of the `k x k`
    /// column-major `c` (the triangle ``Cholesky`` reads).
    @inlinable
    package static func gramUpper(
        vectors x: UnsafePointer<Float>, count n: Int, dimension k: Int,
        alpha: Float = 1, beta: Float = 0, result c: UnsafeMutablePointer<Float>
    ) {
        guard k > 0 else { return }
        // Row-major n x k is column-major k x n with columns = vectors, so X^T X here is
        // (k x n)(n x k) in column-major terms: syrk NoTrans.
        cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, Int32(k), Int32(max(n, 0)),
                    alpha, x, Int32(k), beta, c, Int32(k))
    }

    /// The number of threads OpenBLAS uses for one call.
    package static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS restricted to `count` threads, restoring the previous
    /// setting afterwards. Used when the caller parallelises over rows itself, so the two
    /// levels of threading do not oversubscribe the cores.
    package static func withThreadCount<T, E: Error>(_ count: Int, _ body: () throws(E) -> T) throws(E) -> T {
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(Int32(max(1, count)))
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}
