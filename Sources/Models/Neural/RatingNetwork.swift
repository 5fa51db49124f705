import Foundation

/// The rating MLP's parameters and the work buffers of one mini-batch of ratings, with hand
/// written forward and backward passes:
///
///     x    = [p_u ; q_i]  (+ Gaussian noise while training)    width 2d
///     h_l  = relu(h_{l-1} W_l + c_l), l = 1, 2, 3               h_0 = x
///     y    = clip(h_3 w + c)                                    clipped to the rating scale
///     loss = mean over the batch of (y - r)^2
///
/// The clip passes no gradient where it is active (as the study's clipped linear output).
/// Buffers are contiguous Float32, allocated once for the largest batch; dense products are
/// `sgemm` calls. Not `Sendable`: one training run owns it.
package final class RatingNetwork {
    let userCount: Int
    let movieCount: Int
    /// Embedding width `d`.
    let dimension: Int
    /// The three hidden widths.
    let hidden: [Int]
    let batchCapacity: Int
    let ratingScale: ClosedRange<Float>
    /// `P`, row-major `userCount x d`.
    let userEmbedding: TrainableTensor
    /// `Q`, row-major `movieCount x d`.
    let movieEmbedding: TrainableTensor
    /// Layer `l`'s weights, row-major `inputs(l) x outputs(l)`; the last layer has one output.
    let weights: [TrainableTensor]
    let biases: [TrainableTensor]
    /// Every tensor, in a fixed order (optimiser steps, snapshots, the gradient check).
    package let tensors: [TrainableTensor]

    /// `batchCapacity x 2d`: the concatenated (noisy) embeddings.
    private let input: UnsafeMutablePointer<Float>
    private let inputDelta: UnsafeMutablePointer<Float>
    private let noiseBuffer: UnsafeMutablePointer<Float>
    /// `h_l` of the hidden layers, `batchCapacity x hidden[l]`.
    private let activations: [UnsafeMutablePointer<Float>]
    private let deltas: [UnsafeMutablePointer<Float>]
    /// The unclipped outputs `h_3 w + c`, then (in place of their gradient) `outputDelta`.
    private let output: UnsafeMutablePointer<Float>
    private let outputDelta: UnsafeMutablePointer<Float>
    private let ones: UnsafeMutablePointer<Float>

    /// A network with Gaussian embeddings (`initialScale`), Glorot-uniform weights, small
    /// Gaussian biases and the output bias at `mean` (so training starts at the mean rating).
    package init(
        userCount: Int, movieCount: Int, dimension: Int, hidden: [Int], batchCapacity: Int,
        ratingScale: ClosedRange<Float>, initialScale: Float, mean: Float, seed: UInt64
    ) {
        precondition(hidden.count == 3, "the rating MLP has three hidden layers")
        self.userCount = userCount
        self.movieCount = movieCount
        self.dimension = dimension
        self.hidden = hidden
        self.batchCapacity = batchCapacity
        self.ratingScale = ratingScale
        var random = SeededRandom(seed: seed)
        userEmbedding = TrainableTensor(count: userCount * dimension, decays: false)
        random.fillGaussian(userEmbedding.value, count: userEmbedding.count, scale: initialScale)
        movieEmbedding = TrainableTensor(count: movieCount * dimension, decays: false)
        random.fillGaussian(movieEmbedding.value, count: movieEmbedding.count, scale: initialScale)
        let inputs = [2 * dimension] + hidden, outputs = hidden + [1]
        var weights: [TrainableTensor] = [], biases: [TrainableTensor] = []
        for (i, o) in zip(inputs, outputs) {
            weights.append(NeuralNetwork.glorot(rows: i, columns: o, random: &random))
            biases.append(NeuralNetwork.smallGaussian(count: o, random: &random))
        }
        biases[3].value[0] = mean
        self.weights = weights
        self.biases = biases
        tensors = [userEmbedding, movieEmbedding] + weights + biases
        input = LargeBuffer.allocate(Float.self, capacity: batchCapacity * 2 * dimension)
        inputDelta = LargeBuffer.allocate(Float.self, capacity: batchCapacity * 2 * dimension)
        noiseBuffer = LargeBuffer.allocate(Float.self, capacity: batchCapacity * 2 * dimension)
        activations = hidden.map { LargeBuffer.allocate(Float.self, capacity: batchCapacity * $0) }
        deltas = hidden.map { LargeBuffer.allocate(Float.self, capacity: batchCapacity * $0) }
        output = LargeBuffer.allocate(Float.self, capacity: batchCapacity)
        outputDelta = LargeBuffer.allocate(Float.self, capacity: batchCapacity)
        ones = LargeBuffer.allocate(Float.self, capacity: batchCapacity)
        ones.initialize(repeating: 1, count: batchCapacity)
    }

    deinit {
        for buffer in [input, inputDelta, noiseBuffer, output, outputDelta, ones] + activations + deltas { LargeBuffer.free(buffer) }
    }

    // MARK: Forward

    /// Computes the unclipped outputs of `rows` (user, movie) pairs; with `noise` > 0 the
    /// input gets Gaussian noise of that standard deviation drawn from `random`.
    func forward(
        users: UnsafePointer<Int32>, movies: UnsafePointer<Int32>, rows: Int, noise: Float, random: inout SeededRandom
    ) {
        precondition(rows <= batchCapacity, "a batch of \(rows) exceeds the capacity \(batchCapacity)")
        let d = dimension, width = 2 * d
        for r in 0..<rows {
            (input + r * width).update(from: userEmbedding.value + Int(users[r]) * d, count: d)
            (input + r * width + d).update(from: movieEmbedding.value + Int(movies[r]) * d, count: d)
        }
        if noise > 0 {
            random.fillGaussian(noiseBuffer, count: rows * width, scale: noise)
            for i in 0..<(rows * width) { input[i] += noiseBuffer[i] }
        }
        var previous = UnsafePointer(input), previousWidth = width
        for l in 0..<3 {
            NeuralKernels.fillRows(activations[l], rows: rows, with: biases[l].value, width: hidden[l])
            BLAS.gemm(m: rows, n: hidden[l], k: previousWidth, a: previous, b: weights[l].value, beta: 1, c: activations[l])
            NeuralKernels.reluInPlace(activations[l], count: rows * hidden[l])
            previous = UnsafePointer(activations[l])
            previousWidth = hidden[l]
        }
        output.update(repeating: biases[3].value[0], count: rows)
        BLAS.gemv(rows: rows, columns: hidden[2], matrix: activations[2], vector: weights[3].value, beta: 1, result: output)
    }

    /// The clipped prediction of row `row` of the last forward pass.
    func prediction(row: Int) -> Float {
        min(max(output[row], ratingScale.lowerBound), ratingScale.upperBound)
    }

    // MARK: Loss and backward

    /// After ``forward(users:movies:rows:noise:random:)`` of the same rows: the mean squared
    /// error against `ratings` and, in every tensor's `gradient`, its gradient.
    func lossAndGradients(users: UnsafePointer<Int32>, movies: UnsafePointer<Int32>, ratings: UnsafePointer<Float>, rows: Int) -> Double {
        guard rows > 0 else { return 0 }
        let (low, high) = (ratingScale.lowerBound, ratingScale.upperBound)
        let factor = 2 / Float(rows)
        var total = 0.0
        for r in 0..<rows {
            let y = output[r], error = min(max(y, low), high) - ratings[r]
            total += Double(error * error)
            outputDelta[r] = y > low && y < high ? factor * error : 0
        }
        backward(rows: rows)
        scatterEmbeddingGradients(users: users, movies: movies, rows: rows)
        return total / Double(rows)
    }

    /// From `outputDelta` back to `inputDelta`, filling every layer's weight and bias gradients.
    private func backward(rows: Int) {
        BLAS.gemvTransposed(rows: rows, columns: hidden[2], matrix: activations[2], vector: outputDelta, result: weights[3].gradient)
        var sum: Float = 0
        for r in 0..<rows { sum += outputDelta[r] }
        biases[3].gradient[0] = sum
        // dL/dh_3 = dy w^T: an outer product.
        BLAS.gemm(m: rows, n: hidden[2], k: 1, a: outputDelta, b: weights[3].value, c: deltas[2])
        for l in stride(from: 2, through: 0, by: -1) {
            let width = hidden[l]
            NeuralKernels.reluBackward(activation: activations[l], delta: deltas[l], count: rows * width)
            BLAS.gemvTransposed(rows: rows, columns: width, matrix: deltas[l], vector: ones, result: biases[l].gradient)
            let previous = l == 0 ? input : activations[l - 1], previousWidth = l == 0 ? 2 * dimension : hidden[l - 1]
            // dW_l = h_{l-1}^T delta_l; delta_{l-1} = delta_l W_l^T.
            BLAS.gemm(m: previousWidth, n: width, k: rows, a: previous, transposeA: true, b: deltas[l], c: weights[l].gradient)
            BLAS.gemmABt(m: rows, n: previousWidth, k: width, a: deltas[l], b: weights[l].value,
                         c: l == 0 ? inputDelta : deltas[l - 1])
        }
    }

    /// Each row's input gradient added to the embedding rows it came from (the rest zero).
    private func scatterEmbeddingGradients(users: UnsafePointer<Int32>, movies: UnsafePointer<Int32>, rows: Int) {
        let d = dimension
        userEmbedding.gradient.update(repeating: 0, count: userEmbedding.count)
        movieEmbedding.gradient.update(repeating: 0, count: movieEmbedding.count)
        for r in 0..<rows {
            let source = inputDelta + r * 2 * d
            let p = userEmbedding.gradient + Int(users[r]) * d, q = movieEmbedding.gradient + Int(movies[r]) * d
            for f in 0..<d {
                p[f] += source[f]
                q[f] += source[d + f]
            }
        }
    }
}

extension RatingNetwork {
    /// Every tensor's values, for keeping the best epoch's parameters.
    func snapshot() -> [[Float]] { tensors.map(\.values) }

    func restore(_ saved: [[Float]]) {
        for (tensor, values) in zip(tensors, saved) { tensor.restore(values) }
    }

    /// The trained layers as a ``RatingHead``.
    func head() throws -> RatingHead {
        let inputs = [2 * dimension] + hidden, outputs = hidden + [1]
        var layers: [NeuralLayer] = []
        for l in 0..<4 {
            layers.append(try NeuralLayer(inputs: inputs[l], outputs: outputs[l], weights: weights[l].values, bias: biases[l].values))
        }
        return try RatingHead(layers: layers)
    }

    /// Loss and gradients of the given ratings without noise: the entry point of the
    /// finite-difference gradient check.
    package func lossAndGradients(users: [Int32], movies: [Int32], ratings: [Float]) -> Double {
        var unused = SeededRandom(seed: 0)
        return users.withUnsafeBufferPointer { u in
            movies.withUnsafeBufferPointer { m in
                ratings.withUnsafeBufferPointer { r in
                    guard let ub = u.baseAddress, let mb = m.baseAddress, let rb = r.baseAddress else { return 0 }
                    forward(users: ub, movies: mb, rows: ratings.count, noise: 0, random: &unused)
                    return lossAndGradients(users: ub, movies: mb, ratings: rb, rows: ratings.count)
                }
            }
        }
    }
}
