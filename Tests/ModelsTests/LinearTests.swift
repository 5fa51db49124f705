import Foundation
import XCTest
import Models

final class LinearTests: XCTestCase {
    func testGramUpperMatchesLoops() {
        let n = 9, k = 5
        var rng = TestRandom(seed: 3)
        let x = (0..<(n * k)).map { _ in Float(rng.nextGaussian()) }
        var c = [Float](repeating: 0, count: k * k)
        x.withUnsafeBufferPointer { xp in c.withUnsafeMutableBufferPointer { cp in
            BLAS.gramUpper(vectors: xp.baseAddress!, count: n, dimension: k, result: cp.baseAddress!)
        } }
        for j in 0..<k {
            for i in 0...j {
                var s: Float = 0
                for r in 0..<n { s += x[r * k + i] * x[r * k + j] }
                XCTAssertEqual(c[j * k + i], s, accuracy: 1e-4)
            }
        }
    }

    func testGemvAndGemm() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]  // 2 x 3
        var y = [Float](repeating: 0, count: 2)
        var z = [Float](repeating: 0, count: 3)
        var c = [Float](repeating: 0, count: 4)
        a.withUnsafeBufferPointer { ap in
            [Float(1), 0, -1].withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                BLAS.gemv(rows: 2, columns: 3, matrix: ap.baseAddress!, vector: xp.baseAddress!, result: yp.baseAddress!)
            } }
            [Float(1), 1].withUnsafeBufferPointer { xp in z.withUnsafeMutableBufferPointer { zp in
                BLAS.gemvTransposed(rows: 2, columns: 3, matrix: ap.baseAddress!, vector: xp.baseAddress!, result: zp.baseAddress!)
            } }
            c.withUnsafeMutableBufferPointer { cp in
                BLAS.gemmABt(m: 2, n: 2, k: 3, a: ap.baseAddress!, b: ap.baseAddress!, c: cp.baseAddress!)
            }
        }
        XCTAssertEqual(y, [-2, -2])
        XCTAssertEqual(z, [5, 7, 9])
        XCTAssertEqual(c, [14, 32, 32, 77])
    }
}
