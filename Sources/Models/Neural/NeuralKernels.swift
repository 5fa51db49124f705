import Foundation

/// The element-wise and sparse loops of the neural embedder (the dense products go through
/// ``BLAS``). Pointer based and allocation free: they run once per row of every batch.
enum NeuralKernels {
    /// `out[0..<width] += scale * Σ weights[movie, 0..<width]` over `movies`: the first layer
    /// applied to an L2-normalised bag without ever forming the dense users x movies input.
    @inline(__always)
    static func gatherSum(
        weights: UnsafePointer<Float>, width: Int, movies: UnsafeBufferPointer<Int32>, scale: Float,
        into out: UnsafeMutablePointer<Float>
    ) {
        for movie in movies {
            let row = weights + Int(movie) * width
            for f in 0..<width { out[f] += scale * row[f] }
        }
    }

    /// `gradient[movie, columns] += scale * delta[columns]` for every movie of one bag: the
    /// first layer's weight gradient, restricted to a column range so that workers owning
    /// disjoint ranges never write the same float.
    @inline(__always)
    static func scatterSum(
        delta: UnsafePointer<Float>, width: Int, columns: Range<Int>, movies: UnsafeBufferPointer<Int32>, scale: Float,
        into gradient: UnsafeMutablePointer<Float>
    ) {
        for movie in movies {
            let row = gradient + Int(movie) * width
            for f in columns { row[f] += scale * delta[f] }
        }
    }

    /// Runs `body` over `0..<count` cut into blocks of `grain` elements, on `threads` workers.
    /// The cut depends only on `count` and `grain`, so results do not depend on scheduling.
    static func parallelRanges(count: Int, grain: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let blocks = (count + grain - 1) / grain
        let chunks = ParallelChunks(rowCount: blocks, chunkCount: min(blocks, threads * 4)) { _ in 1 }
        chunks.run(workers: threads, makeScratch: {}) { _, _, range in
            body(range.lowerBound * grain ..< min(range.upperBound * grain, count))
        }
    }

    /// Copies `row` (length `width`) into each of the first `rows` rows of `matrix`: the bias
    /// a dense layer's `sgemm` then accumulates onto.
    static func fillRows(_ matrix: UnsafeMutablePointer<Float>, rows: Int, with row: UnsafePointer<Float>, width: Int) {
        for r in 0..<rows { (matrix + r * width).update(from: row, count: width) }
    }

    static func reluInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { values[i] = max(values[i], 0) }
    }

    /// Turns `delta = dL/dh` into `dL/da` for `h = relu(a)`: zero where the unit was off.
    static func reluBackward(activation h: UnsafePointer<Float>, delta: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count where h[i] <= 0 { delta[i] = 0 }
    }

    static func tanhInPlace(_ values: inout [Float]) {
        for i in values.indices { values[i] = tanh(values[i]) }
    }

    static func tanhInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { values[i] = tanh(values[i]) }
    }

    /// Turns `delta = dL/dh` into `dL/da` for `h = tanh(a)`: multiplies by `1 - h^2`.
    static func tanhBackward(activation h: UnsafePointer<Float>, delta: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { delta[i] *= 1 - h[i] * h[i] }
    }

    /// Multinomial log-likelihood of one user's bag under the softmax of `scores` (length
    /// `count`), then, in place, its gradient with respect to the scores times `weight`:
    /// `weight * (n * softmax - y)` for the `n` movies of `targets`. Returns the negative
    /// log-likelihood `n * logsumexp(scores) - Σ scores[targets]`. One `exp` per movie.
    static func softmaxCrossEntropy(
        scores: UnsafeMutablePointer<Float>, count: Int, targets: UnsafeBufferPointer<Int32>, weight: Float
    ) -> Double {
        var targetSum: Float = 0
        for movie in targets { targetSum += scores[Int(movie)] }
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, scores[i]) }
        let sum = exponentiate(scores, count: count, minus: maximum)
        let n = Float(targets.count)
        let logSumExp = maximum + log(sum)
        let factor = weight * n / sum
        for i in 0..<count { scores[i] *= factor }
        for movie in targets { scores[Int(movie)] -= weight }
        return Double(n) * Double(logSumExp) - Double(targetSum)
    }

    /// Multinomial log-likelihood of one bag under a sampled softmax: `targets` holds the
    /// bag movies' scores, `negatives` the shared negatives' scores already lowered by their
    /// log inclusion probability (and `-inf` where a negative is in the bag). Both are turned
    /// in place into `weight` times their gradient, as in ``softmaxCrossEntropy(scores:count:targets:weight:)``.
    static func sampledSoftmaxCrossEntropy(
        negatives: UnsafeMutablePointer<Float>, count: Int, targets: UnsafeMutablePointer<Float>, targetCount: Int,
        weight: Float
    ) -> Double {
        guard targetCount > 0 else {
            negatives.update(repeating: 0, count: count)
            return 0
        }
        var targetSum: Float = 0
        var maximum = -Float.infinity
        for i in 0..<targetCount {
            targetSum += targets[i]
            maximum = max(maximum, targets[i])
        }
        for j in 0..<count { maximum = max(maximum, negatives[j]) }
        let sum = exponentiate(negatives, count: count, minus: maximum) + exponentiate(targets, count: targetCount, minus: maximum)
        let n = Float(targetCount)
        let factor = weight * n / sum
        for j in 0..<count { negatives[j] *= factor }
        for i in 0..<targetCount { targets[i] = targets[i] * factor - weight }
        return Double(n) * Double(maximum + log(sum)) - Double(targetSum)
    }

    /// `values[i] = exp(values[i] - shift)` in place; returns their sum.
    @inline(__always)
    static func exponentiate(_ values: UnsafeMutablePointer<Float>, count: Int, minus shift: Float) -> Float {
        var sum: Float = 0
        for i in 0..<count {
            let e = exp(values[i] - shift)
            values[i] = e
            sum += e
        }
        return sum
    }
}
