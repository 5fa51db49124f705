import XCTest
import Models

final class CholeskyTests: XCTestCase {
    /// Reference: Gaussian elimination with partial pivoting in Double.
    private func referenceSolve(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var m = a, x = b
        for c in 0..<n {
            var p = c
            for r in c..<n where abs(m[r * n + c]) > abs(m[p * n + c]) { p = r }
            if p != c {
                for j in 0..<n { m.swapAt(c * n + j, p * n + j) }
                x.swapAt(c, p)
            }
            for r in (c + 1)..<n {
                let f = m[r * n + c] / m[c * n + c]
                for j in c..<n { m[r * n + j] -= f * m[c * n + j] }
                x[r] -= f * x[c]
            }
        }
        for c in stride(from: n - 1, through: 0, by: -1) {
            var s = x[c]
            for j in (c + 1)..<n { s -= m[c * n + j] * x[j] }
            x[c] = s / m[c * n + c]
        }
        return x
    }

    private func randomSPD(n: Int, seed: UInt64) -> (a: [Float], b: [Float]) {
        var rng = TestRandom(seed: seed)
        let rows = n + 5
        var x = [Float](repeating: 0, count: rows * n)
        for i in x.indices { x[i] = Float(rng.nextGaussian()) }
        var a = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                var s: Float = 0
                for r in 0..<rows { s += x[r * n + i] * x[r * n + j] }
                a[i * n + j] = s + (i == j ? 0.5 : 0)
            }
        }
        let b = (0..<n).map { _ in Float(rng.nextGaussian()) }
        return (a, b)
    }

    func testCholeskyMatchesReferenceSolve() throws {
        for n in [1, 2, 5, 10, 33, 64] {
            let (a, b) = randomSPD(n: n, seed: UInt64(n))
            let x = try Cholesky.solve(a, order: n, rightHandSide: b)
            let reference = referenceSolve(a.map(Double.init), b.map(Double.init), n: n)
            let scale = max(1, reference.map { abs($0) }.max() ?? 1)
            for i in 0..<n {
                XCTAssertEqual(Double(x[i]), reference[i], accuracy: 1e-4 * scale, "n=\(n) component \(i)")
            }
        }
    }

    func testGramPlusRegularisationPathMatchesReference() throws {
        // The ALS path: Gram matrix of gathered rows by ssyrk, plus lambda I, Cholesky solve.
        let n = 7, k = 6
        var rng = TestRandom(seed: 9)
        let rows = (0..<(n * k)).map { _ in Float(rng.nextGaussian()) }
        let rhs = (0..<k).map { _ in Float(rng.nextGaussian()) }
        var gram = [Float](repeating: 0, count: k * k)
        rows.withUnsafeBufferPointer { x in
            gram.withUnsafeMutableBufferPointer { c in
                BLAS.gramUpper(vectors: x.baseAddress!, count: n, dimension: k, result: c.baseAddress!)
            }
        }
        // Fill the full symmetric matrix from the upper triangle (column-major) and add lambda.
        var full = [Float](repeating: 0, count: k * k)
        for j in 0..<k { for i in 0...j { full[i * k + j] = gram[j * k + i]; full[j * k + i] = gram[j * k + i] } }
        for d in 0..<k { full[d * k + d] += 0.1 }
        var reference = [Double](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0..<k { var s = 0.0; for r in 0..<n { s += Double(rows[r * k + i]) * Double(rows[r * k + j]) }; reference[i * k + j] = s + (i == j ? 0.1 : 0) } }
        for i in 0..<(k * k) { XCTAssertEqual(Double(full[i]), reference[i], accuracy: 1e-4) }
        let x = try Cholesky.solve(full, order: k, rightHandSide: rhs)
        let expected = referenceSolve(reference, rhs.map(Double.init), n: k)
        for i in 0..<k { XCTAssertEqual(Double(x[i]), expected[i], accuracy: 1e-3) }
    }

    func testNotPositiveDefiniteIsAnError() {
        XCTAssertThrowsError(try Cholesky.solve([1, 2, 2, 1], order: 2, rightHandSide: [1, 1])) { error in
            guard case LinearAlgebraError.notPositiveDefinite = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try Cholesky.solve([1, 0, 0], order: 2, rightHandSide: [1, 1]))
    }
}

/// Seeded draws for test fixtures: Models' SplitMix64 with the shapes the tests use.
struct TestRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
    mutating func nextInt(below n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func nextGaussian() -> Double {
        let u = max(nextDouble(), 1e-300), v = nextDouble()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
