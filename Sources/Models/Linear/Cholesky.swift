import COpenBLAS

/// Failures of the dense linear-algebra wrappers.
package enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// The matrix handed to a Cholesky factorisation is not positive definite (its leading
    /// minor of order `minor` is not positive). With a positive regularisation this only
    /// happens when the inputs hold NaN or infinity.
    case notPositiveDefinite(order: Int, minor: Int)
    /// LAPACK rejected argument number `position` of `routine` (a bug in the caller).
    case invalidArgument(routine: String, position: Int)
    /// Array sizes do not fit the stated dimensions.
    case dimensionMismatch(String)

    package var description: String {
        switch self {
        case let .notPositiveDefinite(order, minor):
            return "the \(order)x\(order) normal matrix is not positive definite (leading minor \(minor)); "
                + "the data or the factors contain NaN/infinity, or the regularisation is zero"
        case let .invalidArgument(routine, position):
            return "LAPACK \(routine) rejected argument \(position)"
        case let .dimensionMismatch(what):
            return "dimension mismatch: \(what)"
        }
    }
}

/// Solves symmetric positive definite systems `A x = b` by Cholesky factorisation
/// (LAPACK `spotrf` + `spotrs` from OpenBLAS). Never forms an inverse.
///
/// Matrices are `n x n`, column-major; only the upper triangle (column-major sense) is read,
/// so a symmetric matrix may be passed in either storage order as long as its upper
/// triangle is filled.
package enum Cholesky {
    /// Factors `a` in place (its upper triangle becomes `U` with `A = U^T U`) and overwrites
    /// `b` (`n x nrhs`, column-major) with the solution. The hot-path entry point: no allocation.
    @inlinable
    package static func solveInPlace(
        order n: Int, matrix a: UnsafeMutablePointer<Float>,
        rightHandSides b: UnsafeMutablePointer<Float>, count nrhs: Int = 1
    ) throws(LinearAlgebraError) {
        try factorInPlace(order: n, matrix: a)
        try solveFactored(order: n, factor: a, rightHandSides: b, count: nrhs)
    }

    /// Orders up to this are factored unblocked (`spotf2`): measured with OpenBLAS 0.3.21 at
    /// order 64, the blocked `spotrf` spent most of ALS's solve time packing for and running
    /// its triangular-matrix kernels.
    package static let unblockedOrderLimit = 128

    /// Cholesky factorisation in place (upper triangle): `spotf2` for small orders, `spotrf`
    /// above ``unblockedOrderLimit``.
    @inlinable
    package static func factorInPlace(order n: Int, matrix a: UnsafeMutablePointer<Float>) throws(LinearAlgebraError) {
        guard n > 0 else { return }
        var uplo = CChar(UInt8(ascii: "U"))
        var order = Int32(n)
        var lda = Int32(n)
        var info: Int32 = 0
        let unblocked = n <= unblockedOrderLimit
        if unblocked { spotf2_(&uplo, &order, a, &lda, &info, 1) } else { spotrf_(&uplo, &order, a, &lda, &info, 1) }
        if info > 0 { throw .notPositiveDefinite(order: n, minor: Int(info)) }
        if info < 0 { throw .invalidArgument(routine: unblocked ? "spotf2" : "spotrf", position: Int(-info)) }
    }

    /// Solves with a factor produced by ``factorInPlace(order:matrix:)`` (`spotrs`).
    @inlinable
    package static func solveFactored(
        order n: Int, factor a: UnsafePointer<Float>,
        rightHandSides b: UnsafeMutablePointer<Float>, count nrhs: Int = 1
    ) throws(LinearAlgebraError) {
        guard n > 0, nrhs > 0 else { return }
        if nrhs == 1 {
            // Two triangular solves, U^T y = b then U x = y, without spotrs's packing for trsm.
            cblas_strsv(CblasColMajor, CblasUpper, CblasTrans, CblasNonUnit, Int32(n), a, Int32(n), b, 1)
            cblas_strsv(CblasColMajor, CblasUpper, CblasNoTrans, CblasNonUnit, Int32(n), a, Int32(n), b, 1)
            return
        }
        var uplo = CChar(UInt8(ascii: "U"))
        var order = Int32(n)
        var columns = Int32(nrhs)
        var lda = Int32(n)
        var ldb = Int32(n)
        var info: Int32 = 0
        spotrs_(&uplo, &order, &columns, a, &lda, b, &ldb, &info, 1)
        if info < 0 { throw .invalidArgument(routine: "spotrs", position: Int(-info)) }
    }

    /// Inverts a symmetric positive definite `a` in place (`spotrf` then `spotri`): its upper
    /// triangle (column-major sense) becomes the upper triangle of `A^-1`; the lower is left
    /// as it was. For EASE, whose closed form needs the inverse itself, not a solve.
    package static func invertInPlace(order n: Int, matrix a: UnsafeMutablePointer<Float>) throws(LinearAlgebraError) {
        try factorInPlace(order: n, matrix: a)
        guard n > 0 else { return }
        var uplo = CChar(UInt8(ascii: "U"))
        var order = Int32(n), lda = Int32(n), info: Int32 = 0
        spotri_(&uplo, &order, a, &lda, &info, 1)
        if info > 0 { throw .notPositiveDefinite(order: n, minor: Int(info)) }
        if info < 0 { throw .invalidArgument(routine: "spotri", position: Int(-info)) }
    }

    /// Safe array form: solves `A x = b` for a symmetric positive definite `A` given as a
    /// full `n x n` array (either order) and returns `x`. Leaves the inputs untouched.
    package static func solve(_ matrix: [Float], order n: Int, rightHandSide: [Float]) throws(LinearAlgebraError) -> [Float] {
        guard n >= 0, matrix.count == n * n else {
            throw .dimensionMismatch("matrix has \(matrix.count) entries, expected \(n)x\(n)")
        }
        guard rightHandSide.count == n else {
            throw .dimensionMismatch("right-hand side has \(rightHandSide.count) entries, expected \(n)")
        }
        var a = matrix
        var x = rightHandSide
        let result: Result<Void, LinearAlgebraError> = a.withUnsafeMutableBufferPointer { ap in
            x.withUnsafeMutableBufferPointer { xp in
                guard let aBase = ap.baseAddress, let xBase = xp.baseAddress else { return .success(()) }
                do throws(LinearAlgebraError) {
                    try solveInPlace(order: n, matrix: aBase, rightHandSides: xBase)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
        }
        try result.get()
        return x
    }
}
