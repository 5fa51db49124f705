import CSIMD

/// Learning rates and penalties of one pass over a block.
struct SGDStep {
    var learningRate: Float
    var biasLearningRate: Float
    var regularisation: Float
    var biasRegularisation: Float
}

/// The model parameters during training, one padded row per user and per movie with the bias
/// folded in: a user row is `[p_u, 0..., b_u, 1]`, a movie row `[q_m, 0..., 1, b_m]`, so one
/// dot product of two rows is `p_u . q_m + b_u + b_m`, and one SIMD update moves factors and
/// biases together (the last chunk carries per-lane rates). Padding stays exactly zero (its
/// gradient is zero). Raw buffers, so the hot loops have no ARC or bounds checks. Owned by
/// ``MatrixFactorizationSGD`` for one fit.
final class SGDParameters {
    let k: Int
    /// Row length: `k + 2` rounded up to whole ``SGDChunk``s and, past one chunk, to whole
    /// 64-byte cache lines, so the two threads never write to one line through different rows.
    let stride: Int
    let userCount: Int
    let movieCount: Int
    let p: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<Float>

    /// Lane of the user bias in a user row, and of the constant 1 in a movie row.
    var userBiasLane: Int { stride - 2 }
    /// Lane of the movie bias in a movie row, and of the constant 1 in a user row.
    var movieBiasLane: Int { stride - 1 }

    init(k: Int, userCount: Int, movieCount: Int) {
        self.k = k
        self.userCount = userCount
        self.movieCount = movieCount
        let lanes = SGDChunk.scalarCount, line = 16
        let chunked = (k + 2 + lanes - 1) / lanes * lanes
        stride = chunked <= lanes ? chunked : (chunked + line - 1) / line * line
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let f = LargeBuffer.allocate(Float.self, capacity: n)
            f.initialize(repeating: 0, count: max(n, 1))
            return f
        }
        p = zeros(userCount * stride)
        q = zeros(movieCount * stride)
        for u in 0..<userCount { p[u * stride + movieBiasLane] = 1 }
        for m in 0..<movieCount { q[m * stride + userBiasLane] = 1 }
    }

    deinit {
        LargeBuffer.free(p); LargeBuffer.free(q)
    }

    func userBias(_ u: Int) -> Float { p[u * stride + userBiasLane] }
    func movieBias(_ m: Int) -> Float { q[m * stride + movieBiasLane] }

    /// Sets every bias (`users.count == userCount`, `movies.count == movieCount`).
    func setBiases(users: [Float], movies: [Float]) {
        for u in 0..<userCount { p[u * stride + userBiasLane] = users[u] }
        for m in 0..<movieCount { q[m * stride + movieBiasLane] = movies[m] }
    }

    /// Copies the factors out without padding or biases (row-major `count x k`).
    func userFactors() -> [Float] { unpad(p, rows: userCount) }
    func movieFactors() -> [Float] { unpad(q, rows: movieCount) }

    private func unpad(_ x: UnsafeMutablePointer<Float>, rows: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * k)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows { for f in 0..<k { o[r * k + f] = x[r * stride + f] } }
        }
        return out
    }

    /// A full copy of every parameter (for keeping the best epoch).
    func snapshot() -> [Float] {
        var out = [Float](repeating: 0, count: (userCount + movieCount) * stride)
        out.withUnsafeMutableBufferPointer { o in
            guard let b = o.baseAddress else { return }
            b.update(from: p, count: userCount * stride)
            (b + userCount * stride).update(from: q, count: movieCount * stride)
        }
        return out
    }

    func restore(_ saved: [Float]) {
        saved.withUnsafeBufferPointer { o in
            guard let b = o.baseAddress else { return }
            p.update(from: b, count: userCount * stride)
            q.update(from: b + userCount * stride, count: movieCount * stride)
        }
    }
}

/// Raw pointers shared by the workers of one stratum. `@unchecked Sendable`: the blocks of a
/// stratum touch disjoint users and movies, so concurrent writes never overlap.
struct SGDShared: @unchecked Sendable {
    let entries: UnsafeMutablePointer<SGDEntry>
    let p: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<Float>
    let stride: Int
    /// Mini-batch gradient buffers (same shapes as p and q) and per-row counts within the
    /// batch; nil for batch size 1.
    let gp: UnsafeMutablePointer<Float>?
    let gq: UnsafeMutablePointer<Float>?
    let touchedUser: UnsafeMutablePointer<Int32>?
    let touchedMovie: UnsafeMutablePointer<Int32>?
}

#if LATENT_AVX2
/// The SIMD unit of a factor row: 8 lanes where the build targets AVX2 and FMA (see
/// Package.swift), 4 (SSE) otherwise.
typealias SGDChunk = SIMD8<Float>

/// `a * b + c` in one fused instruction.
@inline(__always)
private func multiplyAdd(_ a: SGDChunk, _ b: SGDChunk, _ c: SGDChunk) -> SGDChunk { c.addingProduct(a, b) }

/// Pairwise sum of the lanes. The barrier keeps the vector whole: without it LLVM splits the
/// multiply-adds that produced `x` into 2-lane pieces (see CSIMD/shim.h).
@inline(__always)
private func horizontalSum(_ x: SGDChunk) -> Float {
    let x = latent_opaque8(x)
    let h = latent_opaque4(x.lowHalf + x.highHalf)
    let l = h.lowHalf + h.highHalf
    return l[0] + l[1]
}
#else
typealias SGDChunk = SIMD4<Float>

/// `a * b + c` as a multiply and an add: `addingProduct` would become a libm call per lane on
/// a target without FMA.
@inline(__always)
private func multiplyAdd(_ a: SGDChunk, _ b: SGDChunk, _ c: SGDChunk) -> SGDChunk { a * b + c }

/// Pairwise sum: two dependent adds instead of three (the barrier as in the AVX2 variant).
@inline(__always)
private func horizontalSum(_ x: SGDChunk) -> Float {
    let x = latent_opaque4(x)
    let h = x.lowHalf + x.highHalf
    return h[0] + h[1]
}
#endif

/// A compile-time count of chunks per factor row, so each row size gets its own fully
/// unrolled kernel (no inner loops, no trip-count branches).
enum SGDRowChunks<let count: Int> {}

enum SGDKernel {
    /// Each update first requests the rows of the entry this far ahead. A block's rows outgrow
    /// L1, and an update whose rows come from L2 starts its dependency chain late (measured at
    /// k = 50: 183 -> 155 ms on 2 threads; 4 to 16 ahead all do about as well).
    static let prefetchDistance = 8
    /// Plain SGD over `range` (one update per rating); returns the sum of squared errors seen
    /// before each update. Rows of up to 16 chunks run an unrolled kernel for their exact size.
    static func run(_ s: SGDShared, _ range: Range<Int>, _ step: SGDStep) -> Double {
        switch s.stride / SGDChunk.scalarCount {
        case 1: return runFixed(s, range, step, SGDRowChunks<1>.self)
        case 2: return runFixed(s, range, step, SGDRowChunks<2>.self)
        case 3: return runFixed(s, range, step, SGDRowChunks<3>.self)
        case 4: return runFixed(s, range, step, SGDRowChunks<4>.self)
        case 5: return runFixed(s, range, step, SGDRowChunks<5>.self)
        case 6: return runFixed(s, range, step, SGDRowChunks<6>.self)
        case 7: return runFixed(s, range, step, SGDRowChunks<7>.self)
        case 8: return runFixed(s, range, step, SGDRowChunks<8>.self)
        case 9: return runFixed(s, range, step, SGDRowChunks<9>.self)
        case 10: return runFixed(s, range, step, SGDRowChunks<10>.self)
        case 11: return runFixed(s, range, step, SGDRowChunks<11>.self)
        case 12: return runFixed(s, range, step, SGDRowChunks<12>.self)
        case 13: return runFixed(s, range, step, SGDRowChunks<13>.self)
        case 14: return runFixed(s, range, step, SGDRowChunks<14>.self)
        case 15: return runFixed(s, range, step, SGDRowChunks<15>.self)
        case 16: return runFixed(s, range, step, SGDRowChunks<16>.self)
        default: return runRows(s, range, step, chunks: s.stride / SGDChunk.scalarCount)
        }
    }

    private static func runFixed<let chunks: Int>(_ s: SGDShared, _ range: Range<Int>, _ step: SGDStep,
                                                  _: SGDRowChunks<chunks>.Type) -> Double {
        runRows(s, range, step, chunks: chunks)
    }

    /// The update loop; inlined into ``runFixed(_:_:_:_:)`` with `chunks` a constant. Ratings
    /// go one by one: taking long rows in pairs (both dot products before either update) was
    /// 5-10% faster before the prefetch and the whole-vector dot product, and is 0-11% slower
    /// since (k = 50, 64, 100).
    @inline(__always)
    private static func runRows(_ s: SGDShared, _ range: Range<Int>, _ step: SGDStep, chunks: Int) -> Double {
        let p = UnsafeMutableRawPointer(s.p).assumingMemoryBound(to: SGDChunk.self)
        let q = UnsafeMutableRawPointer(s.q).assumingMemoryBound(to: SGDChunk.self)
        let lr = step.learningRate
        let d = SGDChunk(repeating: 1 - lr * step.regularisation)
        // The last chunk holds the bias lanes: its rates and decays differ per lane.
        let last = chunks - 1
        let user = step.lastChunk(stride: s.stride, user: true), movie = step.lastChunk(stride: s.stride, user: false)
        var sse: Double = 0
        var partial: Float = 0
        var pending = 0

        /// Error of `e` at the current parameters (`r - b_u - b_m - p_u . q_m`, one dot product).
        @inline(__always) func error(_ e: SGDEntry) -> Float {
            let pu = p + Int(e.user) * chunks, qm = q + Int(e.movie) * chunks
            // Two accumulators halve the dependent-add chain of the dot product.
            var acc0 = SGDChunk(), acc1 = SGDChunk()
            var v = 0
            while v + 1 < chunks {
                acc0 = multiplyAdd(pu[v], qm[v], acc0)
                acc1 = multiplyAdd(pu[v + 1], qm[v + 1], acc1)
                v += 2
            }
            if v < chunks { acc0 = multiplyAdd(pu[v], qm[v], acc0) }
            return e.residual - horizontalSum(acc0 + acc1)
        }
        /// Moves both rows of `e` (factors and biases) by the gradient of `err`:
        /// p <- d p + a q and q <- d q + a p, both from the old values.
        @inline(__always) func apply(_ e: SGDEntry, _ err: Float) {
            let pu = p + Int(e.user) * chunks, qm = q + Int(e.movie) * chunks
            let a = SGDChunk(repeating: lr * err)
            for v in 0..<last {
                let pv = pu[v], qv = qm[v]
                pu[v] = multiplyAdd(a, qv, d * pv)
                qm[v] = multiplyAdd(a, pv, d * qv)
            }
            let all = SGDChunk(repeating: err)
            let pv = pu[last], qv = qm[last]
            pu[last] = multiplyAdd(all * user.rate, qv, user.decay * pv)
            qm[last] = multiplyAdd(all * movie.rate, pv, movie.decay * qv)
        }
        /// Requests every cache line of both rows of the entry `prefetchDistance` after `i`.
        let lastEntry = range.upperBound - 1, rowFloats = chunks * SGDChunk.scalarCount
        @inline(__always) func prefetch(after i: Int) {
            let e = s.entries[min(i + prefetchDistance, lastEntry)]
            var f = 0
            while f < rowFloats {
                latent_prefetch(s.q + Int(e.movie) * rowFloats + f)
                latent_prefetch(s.p + Int(e.user) * rowFloats + f)
                f += 16
            }
        }
        @inline(__always) func record(_ err: Float) {
            partial += err * err
            pending += 1
            if pending == 1024 { sse += Double(partial); partial = 0; pending = 0 }
        }

        var i = range.lowerBound
        while i < range.upperBound {
            prefetch(after: i)
            let err = error(s.entries[i])
            record(err); apply(s.entries[i], err)
            i += 1
        }
        return sse + Double(partial)
    }

    /// Mini-batch SGD over `range`: within each batch of `batchSize` ratings the gradients are
    /// taken at the parameters of the batch start and averaged per row (a row seen `n` times
    /// moves by `learningRate` times its mean gradient: summing would scale the step with `n`
    /// and diverge), then applied together.
    static func runBatched(_ s: SGDShared, _ range: Range<Int>, _ step: SGDStep, batchSize: Int,
                           touchedUsers: inout [Int32], touchedMovies: inout [Int32]) -> Double {
        guard let gp = s.gp, let gq = s.gq, let tu = s.touchedUser, let tm = s.touchedMovie else {
            return run(s, range, step)
        }
        let stride = s.stride
        let user = step.lanes(stride: stride, user: true), movie = step.lanes(stride: stride, user: false)
        var sse: Double = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + batchSize, range.upperBound)
            touchedUsers.removeAll(keepingCapacity: true)
            touchedMovies.removeAll(keepingCapacity: true)
            for i in start..<end {
                let e = s.entries[i]
                let u = Int(e.user), m = Int(e.movie)
                let pu = s.p + u * stride, qm = s.q + m * stride
                var dot: Float = 0
                for f in 0..<stride { dot += pu[f] * qm[f] }
                let err = e.residual - dot
                sse += Double(err * err)
                if tu[u] == 0 { touchedUsers.append(e.user) }
                tu[u] += 1
                if tm[m] == 0 { touchedMovies.append(e.movie) }
                tm[m] += 1
                let gu = gp + u * stride, gm = gq + m * stride
                for f in 0..<stride {
                    gu[f] += err * qm[f] - user.penalty[f] * pu[f]
                    gm[f] += err * pu[f] - movie.penalty[f] * qm[f]
                }
            }
            applyMeanGradients(of: touchedUsers, counts: tu, to: s.p, gradients: gp, rate: user.rate, stride: stride)
            applyMeanGradients(of: touchedMovies, counts: tm, to: s.q, gradients: gq, rate: movie.rate, stride: stride)
            start = end
        }
        return sse
    }

    /// Moves each touched row by `rate` times its mean gradient (the summed gradient over its
    /// count), then clears the gradient and the count for the next batch. One side at a time.
    @inline(__always)
    private static func applyMeanGradients(
        of touched: [Int32], counts: UnsafeMutablePointer<Int32>, to rows: UnsafeMutablePointer<Float>,
        gradients: UnsafeMutablePointer<Float>, rate: [Float], stride: Int
    ) {
        for r32 in touched {
            let r = Int(r32)
            let inverse = 1 / Float(counts[r])
            counts[r] = 0
            let row = rows + r * stride, gradient = gradients + r * stride
            for f in 0..<stride { row[f] += inverse * rate[f] * gradient[f]; gradient[f] = 0 }
        }
    }
}

extension SGDStep {
    /// Learning rate and penalty of every lane of a user row (`user`) or a movie row: the
    /// factor values on every lane below the bias pair (padding lanes hold zero in both rows,
    /// so they stay zero whatever the rate), the bias values on the row's bias lane, and zero on
    /// its constant lane, which therefore keeps its 1.
    func lanes(stride: Int, user: Bool) -> (rate: [Float], penalty: [Float]) {
        var rate = [Float](repeating: 0, count: stride), penalty = rate
        for f in 0..<(stride - 2) { rate[f] = learningRate; penalty[f] = regularisation }
        let bias = user ? stride - 2 : stride - 1
        rate[bias] = biasLearningRate
        penalty[bias] = biasRegularisation
        return (rate, penalty)
    }

    /// The rates of the last chunk of a row as vectors, with the decay `1 - rate * penalty`.
    func lastChunk(stride: Int, user: Bool) -> (rate: SGDChunk, decay: SGDChunk) {
        let (rate, penalty) = lanes(stride: stride, user: user)
        var r = SGDChunk(), d = SGDChunk()
        for lane in 0..<SGDChunk.scalarCount {
            let f = stride - SGDChunk.scalarCount + lane
            r[lane] = rate[f]
            d[lane] = 1 - rate[f] * penalty[f]
        }
        return (r, d)
    }
}
