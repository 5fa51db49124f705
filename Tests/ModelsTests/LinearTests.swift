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

    /// Per-call cost of the row-solve building blocks (LATENT_ALS_BENCH=1 only).
    func testMicroTimings() throws {
        guard ProcessInfo.processInfo.environment["LATENT_ALS_BENCH"] == "1" else { return }
        for threads in [1, 2] { try BLAS.withThreadCount(threads) {
        for k in [10, 50, 64] {
            for n in [5, 150] {
                var rng = TestRandom(seed: 1)
                let x = (0..<(n * k)).map { _ in Float(rng.nextGaussian()) }
                var a = [Float](repeating: 0, count: k * k)
                var b = [Float](repeating: 1, count: k)
                let reps = 20000
                var start = Date()
                x.withUnsafeBufferPointer { xp in a.withUnsafeMutableBufferPointer { ap in
                    for _ in 0..<reps { BLAS.gramUpper(vectors: xp.baseAddress!, count: n, dimension: k, result: ap.baseAddress!) }
                } }
                let syrk = Date().timeIntervalSince(start) / Double(reps) * 1e6
                start = Date()
                try a.withUnsafeMutableBufferPointer { ap in try b.withUnsafeMutableBufferPointer { bp in
                    for _ in 0..<reps {
                        for d in 0..<k { ap[d * k + d] += 10 }
                        try Cholesky.factorInPlace(order: k, matrix: ap.baseAddress!)
                        try Cholesky.solveFactored(order: k, factor: ap.baseAddress!, rightHandSides: bp.baseAddress!)
                        BLAS.gramUpper(vectors: x.withUnsafeBufferPointer { $0.baseAddress! }, count: n, dimension: k, result: ap.baseAddress!)
                    }
                } }
                let chol = Date().timeIntervalSince(start) / Double(reps) * 1e6 - syrk
                print(String(format: "MICRO k=%d n=%d syrk=%.2fus potrf+potrs=%.2fus blasThreads=%d", k, n, syrk, chol, BLAS.threadCount))
            }
        }
        } }
    }
}

final class LinearParallelTimingTests: XCTestCase {
    /// Whether concurrent OpenBLAS calls from two threads scale (LATENT_ALS_BENCH=1 only).
    func testConcurrentCallsScale() throws {
        guard ProcessInfo.processInfo.environment["LATENT_ALS_BENCH"] == "1" else { return }
        let k = 50, n = 150, reps = 20000
        var rng = TestRandom(seed: 1)
        let x = (0..<(n * k)).map { _ in Float(rng.nextGaussian()) }
        for workers in [1, 2] {
            let start = Date()
            BLAS.withThreadCount(1) {
                DispatchQueue.concurrentPerform(iterations: workers) { _ in
                    var a = [Float](repeating: 0, count: k * k)
                    var b = [Float](repeating: 1, count: k)
                    x.withUnsafeBufferPointer { xp in a.withUnsafeMutableBufferPointer { ap in b.withUnsafeMutableBufferPointer { bp in
                        for _ in 0..<(reps / workers) {
                            BLAS.gramUpper(vectors: xp.baseAddress!, count: n, dimension: k, result: ap.baseAddress!)
                            for d in 0..<k { ap[d * k + d] += 10 }
                            try? Cholesky.solveInPlace(order: k, matrix: ap.baseAddress!, rightHandSides: bp.baseAddress!)
                        }
                    } } }
                }
            }
            print(String(format: "PAR workers=%d total=%.3fs", workers, Date().timeIntervalSince(start)))
        }
    }
}
