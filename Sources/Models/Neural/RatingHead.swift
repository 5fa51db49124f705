import Foundation

/// The rating side of a trained rating MLP: four dense layers that map a user's and a movie's
/// embeddings, concatenated, to a predicted rating (ReLU after the first three, the last one
/// linear with one output; the caller clips). ``FactorModel/predict(user:movie:)``, recommend
/// and top-N score through it when a model has one.
package struct RatingHead: Sendable, Equatable {
    /// `layers[0].inputs` is `2k` (user embedding, then movie embedding); the last layer has
    /// one output.
    package let layers: [NeuralLayer]

    /// Users x movies above which scoring every pair (top-N for every user) is refused: at
    /// about 5 kflop per pair this is a few minutes on two cores.
    package static let maxScoredPairs = 500_000_000

    /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` unless there are four
    /// layers, each feeding the next, from an even input width to one output.
    package init(layers: [NeuralLayer]) throws {
        guard layers.count == 4 else {
            throw ModelError.invalidParameter(name: "rating head layers", value: "\(layers.count)", requirement: "4 (three hidden, one output)")
        }
        for (previous, next) in zip(layers, layers.dropFirst()) where previous.outputs != next.inputs {
            throw ModelError.invalidParameter(
                name: "layer widths", value: "\(previous.outputs) then \(next.inputs)", requirement: "equal (each layer feeds the next)")
        }
        guard layers[0].inputs % 2 == 0, layers[3].outputs == 1 else {
            throw ModelError.invalidParameter(
                name: "rating head shape", value: "\(layers[0].inputs) inputs, \(layers[3].outputs) outputs",
                requirement: "an even number of inputs (user then movie embedding) and one output")
        }
        self.layers = layers
    }

    /// The embedding width `k` it reads.
    package var dimension: Int { layers[0].inputs / 2 }

    /// The unclipped prediction for one user and one movie embedding (each `k` floats).
    package func score(user: UnsafePointer<Float>, movie: UnsafePointer<Float>) -> Float {
        let widest = layers.map(\.outputs).max() ?? 1, k = dimension
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * k + 2 * widest) { scratch in
            guard let base = scratch.baseAddress else { return .nan }
            var x = base, y = base + max(2 * k, widest)
            x.update(from: user, count: k)
            (x + k).update(from: movie, count: k)
            for (l, layer) in layers.enumerated() {
                for j in 0..<layer.outputs { y[j] = layer.bias[j] }
                layer.weights.withUnsafeBufferPointer { w in
                    for i in 0..<layer.inputs {
                        let xi = x[i], row = layer.outputs * i
                        for j in 0..<layer.outputs { y[j] += xi * w[row + j] }
                    }
                }
                if l < 3 { NeuralKernels.reluInPlace(y, count: layer.outputs) }
                swap(&x, &y)
            }
            return x[0]
        }
    }

    /// Throws when scoring every one of `users` x `movies` pairs is above ``maxScoredPairs``.
    package static func checkScoringSize(users: Int, movies: Int) throws {
        let pairs = users.multipliedReportingOverflow(by: movies)
        guard pairs.overflow || pairs.partialValue > maxScoredPairs else { return }
        throw ModelError.invalidParameter(
            name: "users x movies for the rating MLP", value: "\(users) x \(movies)",
            requirement: "at most \(maxScoredPairs) pairs: scoring every user against every movie through the network costs about 5 kflop a pair (use mf or als for top-N lists on data this size)")
    }
}

/// Scores blocks of users against every movie through a ``RatingHead``, with the first layer
/// decomposed: `[p_u ; q_i] W_1 = p_u W_1u + q_i W_1m`, both sides computed once (one `sgemm`
/// each), so a user's scores are `relu(A + a_u)` then two `sgemm`s and an `sgemv` over the
/// movies.
struct RatingHeadScorer: Sendable {
    let head: RatingHead
    let movieCount: Int
    /// `userCount x h_1`: `p_u W_1u`.
    let userSide: [Float]
    /// `movieCount x h_1`: `q_i W_1m + c_1`.
    let movieSide: [Float]

    init(head: RatingHead, userFactors: [Float], userCount: Int, movieFactors: [Float], movieCount: Int) {
        self.head = head
        self.movieCount = movieCount
        let k = head.dimension, width = head.layers[0].outputs
        var userSide = [Float](repeating: 0, count: userCount * width)
        var movieSide = [Float](repeating: 0, count: movieCount * width)
        head.layers[0].weights.withUnsafeBufferPointer { w in
            userFactors.withUnsafeBufferPointer { p in
                movieFactors.withUnsafeBufferPointer { q in
                    guard let wb = w.baseAddress, let pb = p.baseAddress, let qb = q.baseAddress else { return }
                    userSide.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        BLAS.gemm(m: userCount, n: width, k: k, a: pb, b: wb, c: o)
                    }
                    movieSide.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        Self.fillRows(o, rows: movieCount, with: head.layers[0].bias)
                        BLAS.gemm(m: movieCount, n: width, k: k, a: qb, b: wb + k * width, beta: 1, c: o)
                    }
                }
            }
        }
        self.userSide = userSide
        self.movieSide = movieSide
    }

    /// `buffer[row, i]` = the unclipped prediction of user `users.lowerBound + row` for movie
    /// `i`, for every row of `users` (`users.count x movieCount` floats).
    func score(users: Range<Int>, into buffer: UnsafeMutablePointer<Float>) {
        let widths = head.layers.map(\.outputs), m = movieCount
        var scratch = [Float](repeating: 0, count: m * (widths[0] + widths[1] + widths[2]))
        scratch.withUnsafeMutableBufferPointer { all in
            guard let h1 = all.baseAddress else { return }
            let h2 = h1 + m * widths[0], h3 = h2 + m * widths[1]
            for (row, u) in users.enumerated() {
                firstLayer(user: u, into: h1)
                dense(head.layers[1], input: h1, rows: m, into: h2)
                dense(head.layers[2], input: h2, rows: m, into: h3)
                let out = buffer + row * m, last = head.layers[3]
                out.update(repeating: last.bias[0], count: m)
                last.weights.withUnsafeBufferPointer { w in
                    guard let wb = w.baseAddress else { return }
                    BLAS.gemv(rows: m, columns: last.inputs, matrix: h3, vector: wb, beta: 1, result: out)
                }
            }
        }
    }

    /// `h_1 = relu(A + a_u)` for every movie.
    private func firstLayer(user u: Int, into h1: UnsafeMutablePointer<Float>) {
        let width = head.layers[0].outputs
        movieSide.withUnsafeBufferPointer { a in
            userSide.withUnsafeBufferPointer { au in
                let own = u * width
                for i in 0..<movieCount {
                    let row = i * width
                    for j in 0..<width { h1[row + j] = max(a[row + j] + au[own + j], 0) }
                }
            }
        }
    }

    /// `output = relu(input W + c)` for `rows` rows.
    private func dense(_ layer: NeuralLayer, input: UnsafeMutablePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>) {
        Self.fillRows(output, rows: rows, with: layer.bias)
        layer.weights.withUnsafeBufferPointer { w in
            guard let wb = w.baseAddress else { return }
            BLAS.gemm(m: rows, n: layer.outputs, k: layer.inputs, a: input, b: wb, beta: 1, c: output)
        }
        NeuralKernels.reluInPlace(output, count: rows * layer.outputs)
    }

    private static func fillRows(_ matrix: UnsafeMutablePointer<Float>, rows: Int, with bias: [Float]) {
        bias.withUnsafeBufferPointer { b in
            guard let bb = b.baseAddress else { return }
            NeuralKernels.fillRows(matrix, rows: rows, with: bb, width: b.count)
        }
    }
}
