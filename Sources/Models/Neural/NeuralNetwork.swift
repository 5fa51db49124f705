import Foundation

/// The neural embedder's parameters and the work buffers of one mini-batch, with the hand
/// written forward and backward passes (Liang et al. 2018, "Variational Autoencoders for
/// Collaborative Filtering", the Mult-DAE variant):
///
///     h_0 = tanh(x W_0 + c_0)                 x: the bag, L2-normalised (a sparse gather-sum)
///     h_l = tanh(h_{l-1} W_l + c_l)           the last h is the user embedding e (width d)
///     z   = e V^T + b                         scores over the whole catalogue
///     loss = mean over users of -Σ_{i in bag} log softmax(z)_i
///
/// Every buffer is contiguous Float32, allocated once for the largest batch; the dense
/// products are `sgemm` calls, the row-wise loops run on ``ParallelChunks`` workers over
/// fixed row or column ranges (deterministic whatever the scheduling).
///
/// Not `Sendable`: one training run owns it.
package final class NeuralNetwork {
    let movieCount: Int
    /// Output width of each encoder layer; the last one is the embedding dimension.
    let widths: [Int]
    let batchCapacity: Int
    let threads: Int
    /// Layer `l`'s weights, row-major `inputs(l) x widths[l]`.
    let weights: [TrainableTensor]
    let biases: [TrainableTensor]
    /// `V`, row-major `movieCount x d`: the model's movie factors.
    let movieFactors: TrainableTensor
    /// `b`, one per movie: the model's movie biases.
    let movieBias: TrainableTensor
    /// Every tensor, in a fixed order (optimiser steps and snapshots).
    package let tensors: [TrainableTensor]
    /// The sampled softmax, or nil for the full one.
    let sampler: SampledSoftmax?

    /// `h_l` of the current batch, `batchCapacity x widths[l]`.
    private let activations: [UnsafeMutablePointer<Float>]
    /// Gradients with respect to `h_l`, then (in place) to the pre-activations.
    private let deltas: [UnsafeMutablePointer<Float>]
    /// `batchCapacity x movieCount` (full softmax only): the scores, then (in place) their gradient.
    private let scores: UnsafeMutablePointer<Float>
    private let ones: UnsafeMutablePointer<Float>
    private let rowLoss: UnsafeMutablePointer<Double>

    /// A network with Glorot-uniform weights and small Gaussian biases (Liang et al.'s
    /// initialisation), drawn from `seed`; `sampler` nil trains the output layer with the full softmax.
    init(movieCount: Int, widths: [Int], batchCapacity: Int, threads: Int, seed: UInt64, sampler: SampledSoftmax?) {
        self.sampler = sampler
        self.movieCount = movieCount
        self.widths = widths
        self.batchCapacity = batchCapacity
        self.threads = max(1, threads)
        var random = SeededRandom(seed: seed)
        var weights: [TrainableTensor] = [], biases: [TrainableTensor] = []
        for (l, width) in widths.enumerated() {
            let inputs = l == 0 ? movieCount : widths[l - 1]
            weights.append(Self.glorot(rows: inputs, columns: width, random: &random))
            biases.append(Self.smallGaussian(count: width, random: &random))
        }
        let d = widths[widths.count - 1]
        self.weights = weights
        self.biases = biases
        movieFactors = Self.glorot(rows: movieCount, columns: d, random: &random)
        movieBias = Self.smallGaussian(count: movieCount, random: &random)
        tensors = weights + biases + [movieFactors, movieBias]
        activations = widths.map { LargeBuffer.allocate(Float.self, capacity: batchCapacity * $0) }
        deltas = widths.map { LargeBuffer.allocate(Float.self, capacity: batchCapacity * $0) }
        scores = LargeBuffer.allocate(Float.self, capacity: sampler == nil ? batchCapacity * movieCount : 1)
        ones = LargeBuffer.allocate(Float.self, capacity: batchCapacity)
        ones.initialize(repeating: 1, count: batchCapacity)
        rowLoss = LargeBuffer.allocate(Double.self, capacity: batchCapacity)
    }

    /// A network trained with the full softmax, or with a sampled one drawing `draws` negatives
    /// per batch from the popularity of `proposalBags` (tests).
    package convenience init(
        movieCount: Int, widths: [Int], batchCapacity: Int, threads: Int, seed: UInt64,
        sampledNegatives draws: Int? = nil, proposalBags: [[Int32]] = []
    ) {
        let sampler = draws.map {
            SampledSoftmax(
                bags: LikedMovies(bags: proposalBags), movieCount: movieCount, dimension: widths[widths.count - 1], draws: $0,
                batchCapacity: batchCapacity, threads: threads, seed: seed)
        }
        self.init(movieCount: movieCount, widths: widths, batchCapacity: batchCapacity, threads: threads, seed: seed, sampler: sampler)
    }

    deinit {
        for buffer in activations + deltas + [scores, ones] { LargeBuffer.free(buffer) }
        LargeBuffer.free(rowLoss)
    }

    var dimension: Int { widths[widths.count - 1] }

    static func glorot(rows: Int, columns: Int, random: inout SeededRandom) -> TrainableTensor {
        let tensor = TrainableTensor(count: rows * columns, decays: true)
        let limit = (6 / Double(rows + columns)).squareRoot()
        for i in 0..<tensor.count { tensor.value[i] = Float((2 * random.nextDouble() - 1) * limit) }
        return tensor
    }

    static func smallGaussian(count: Int, random: inout SeededRandom) -> TrainableTensor {
        let tensor = TrainableTensor(count: count, decays: false)
        random.fillGaussian(tensor.value, count: count, scale: 0.001)
        return tensor
    }

    // MARK: Forward

    /// Computes every layer's activations for `batch`; the embeddings are then in
    /// ``embedding(row:)``.
    func encode(_ batch: NeuralBatch) {
        precondition(batch.count <= batchCapacity, "a batch of \(batch.count) exceeds the capacity \(batchCapacity)")
        encodeSparseLayer(batch)
        for l in 1..<widths.count { encodeDenseLayer(l, rows: batch.count) }
    }

    /// Layer 0: bias plus the scaled sum of the bag's weight rows, then tanh; rows in parallel.
    private func encodeSparseLayer(_ batch: NeuralBatch) {
        let width = widths[0]
        let out = SharedPointer(activations[0]), w = SharedPointer(weights[0].value), bias = SharedPointer(biases[0].value)
        let offsets = batch.offsets, movies = batch.movies, scales = batch.scales
        let chunks = ParallelChunks(rowCount: batch.count, chunkCount: threads * 4) { Double(offsets[$0 + 1] - offsets[$0] + 1) }
        chunks.run(workers: threads, makeScratch: {}) { _, _, rows in
            movies.withUnsafeBufferPointer { all in
                for r in rows {
                    let row = out.base + r * width
                    row.update(from: bias.base, count: width)
                    let items = UnsafeBufferPointer(rebasing: all[offsets[r] ..< offsets[r + 1]])
                    NeuralKernels.gatherSum(weights: w.base, width: width, movies: items, scale: scales[r], into: row)
                    NeuralKernels.tanhInPlace(row, count: width)
                }
            }
        }
    }

    private func encodeDenseLayer(_ l: Int, rows: Int) {
        let width = widths[l]
        NeuralKernels.fillRows(activations[l], rows: rows, with: biases[l].value, width: width)
        BLAS.gemm(m: rows, n: width, k: widths[l - 1], a: activations[l - 1], b: weights[l].value, beta: 1, c: activations[l])
        NeuralKernels.tanhInPlace(activations[l], count: rows * width)
    }

    /// The embedding of row `row` of the last encoded batch.
    func embedding(row: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: activations[widths.count - 1] + row * dimension, count: dimension)
    }

    // MARK: Loss and backward

    /// After ``encode(_:)`` of the same batch: the mean multinomial negative log-likelihood of
    /// the rows' bags (`targets`, by user) and, in every tensor's `gradient`, its gradient
    /// (without the weight decay, which the optimiser adds).
    func lossAndGradients(_ batch: NeuralBatch, targets: LikedMovies) -> Double {
        let rows = batch.count
        guard rows > 0 else { return 0 }
        let loss: Double
        if let sampler {
            let last = widths.count - 1
            loss = sampler.lossAndGradients(
                embeddings: activations[last], users: batch.users, targets: targets, movieFactors: movieFactors,
                movieBias: movieBias, embeddingGradient: deltas[last])
        } else {
            loss = scoreAndSoftmax(batch, targets: targets)
            backwardOutputLayer(rows: rows)
        }
        for l in stride(from: widths.count - 1, through: 0, by: -1) {
            let width = widths[l]
            NeuralKernels.tanhBackward(activation: activations[l], delta: deltas[l], count: rows * width)
            BLAS.gemvTransposed(rows: rows, columns: width, matrix: deltas[l], vector: ones, result: biases[l].gradient)
            if l > 0 {
                // dW_l = h_{l-1}^T delta_l; delta_{l-1} = delta_l W_l^T.
                BLAS.gemm(m: widths[l - 1], n: width, k: rows, a: activations[l - 1], transposeA: true,
                          b: deltas[l], c: weights[l].gradient)
                BLAS.gemmABt(m: rows, n: widths[l - 1], k: width, a: deltas[l], b: weights[l].value, c: deltas[l - 1])
            } else {
                backwardSparseLayer(batch)
            }
        }
        return loss
    }

    /// `z = e V^T + b`, then the softmax cross-entropy of each row in parallel, leaving
    /// `dL/dz` in `scores`. Returns the mean loss (row losses summed in row order).
    private func scoreAndSoftmax(_ batch: NeuralBatch, targets: LikedMovies) -> Double {
        let rows = batch.count, movieCount = self.movieCount
        NeuralKernels.fillRows(scores, rows: rows, with: movieBias.value, width: movieCount)
        BLAS.gemmABt(m: rows, n: movieCount, k: dimension, a: activations[widths.count - 1], b: movieFactors.value, beta: 1, c: scores)
        let z = SharedPointer(scores), loss = SharedPointer(rowLoss)
        let weight = 1 / Float(rows)
        targets.forEachBag(of: batch.users, threads: threads) { r, bag in
            loss.base[r] = NeuralKernels.softmaxCrossEntropy(
                scores: z.base + r * movieCount, count: movieCount, targets: bag, weight: weight)
        }
        var total = 0.0
        for r in 0..<rows { total += rowLoss[r] }
        return total / Double(rows)
    }

    /// dV = dZ^T e, db = column sums of dZ, and dL/de = dZ V into the last layer's delta.
    private func backwardOutputLayer(rows: Int) {
        let last = widths.count - 1
        BLAS.gemm(m: movieCount, n: dimension, k: rows, a: scores, transposeA: true, b: activations[last], c: movieFactors.gradient)
        BLAS.gemvTransposed(rows: rows, columns: movieCount, matrix: scores, vector: ones, result: movieBias.gradient)
        BLAS.gemm(m: rows, n: dimension, k: movieCount, a: scores, b: movieFactors.value, c: deltas[last])
    }

    /// dW_0 = x^T delta_0 without the dense x: each bag movie's row gets its scaled delta.
    /// Workers own disjoint column ranges of W_0, so no two write the same float.
    private func backwardSparseLayer(_ batch: NeuralBatch) {
        let width = widths[0], rows = batch.count
        let gradient = SharedPointer(weights[0].gradient), delta = SharedPointer(deltas[0])
        let offsets = batch.offsets, movies = batch.movies, scales = batch.scales
        let movieCount = self.movieCount
        let chunks = ParallelChunks(rowCount: width, chunkCount: threads) { _ in 1 }
        chunks.run(workers: threads, makeScratch: {}) { _, _, columns in
            // The gradient is accumulated, so it starts from zero (only this worker's columns).
            for m in 0..<movieCount { (gradient.base + m * width + columns.lowerBound).update(repeating: 0, count: columns.count) }
            movies.withUnsafeBufferPointer { all in
                for r in 0..<rows {
                    let items = UnsafeBufferPointer(rebasing: all[offsets[r] ..< offsets[r + 1]])
                    NeuralKernels.scatterSum(delta: delta.base + r * width, width: width, columns: columns,
                                             movies: items, scale: scales[r], into: gradient.base)
                }
            }
        }
    }
}

extension NeuralNetwork {
    /// The embedding of every user of `bags` (no dropout), row-major `users x d`: one
    /// forward pass per batch of users.
    func embedAll(_ bags: LikedMovies) -> [Float] {
        let d = dimension, userCount = bags.userCount
        var out = [Float](repeating: 0, count: userCount * d)
        var batch = NeuralBatch(capacity: batchCapacity)
        var unused = SeededRandom(seed: 0)
        for start in stride(from: 0, to: userCount, by: batchCapacity) {
            let end = min(start + batchCapacity, userCount)
            batch.fill(users: Int32(start) ..< Int32(end), bags: bags, dropout: 0, random: &unused)
            encode(batch)
            for r in 0..<(end - start) {
                for (f, value) in embedding(row: r).enumerated() { out[(start + r) * d + f] = value }
            }
        }
        return out
    }

    /// The trained encoder layers, copied out.
    func encoder(likedThreshold: Float) throws -> NeuralEncoder {
        var layers: [NeuralLayer] = []
        for (l, width) in widths.enumerated() {
            layers.append(try NeuralLayer(
                inputs: l == 0 ? movieCount : widths[l - 1], outputs: width, weights: weights[l].values, bias: biases[l].values))
        }
        return try NeuralEncoder(layers: layers, likedThreshold: likedThreshold)
    }

    /// Every tensor's values, for keeping the best epoch's parameters.
    func snapshot() -> [[Float]] { tensors.map(\.values) }

    func restore(_ saved: [[Float]]) {
        for (tensor, values) in zip(tensors, saved) { tensor.restore(values) }
    }

    /// Loss and gradients for users whose bags are `bags` (no dropout): the entry point of
    /// the finite-difference gradient check. A sampled softmax draws the same negatives on
    /// every call.
    package func lossAndGradients(bags: [[Int32]]) -> Double {
        sampler?.restartDraws()
        let liked = LikedMovies(bags: bags)
        var batch = NeuralBatch(capacity: bags.count)
        var unused = SeededRandom(seed: 0)
        batch.fill(users: Int32(0) ..< Int32(bags.count), bags: liked, dropout: 0, random: &unused)
        encode(batch)
        return lossAndGradients(batch, targets: liked)
    }
}
