import Foundation

/// Adam (Kingma and Ba, "Adam: A Method for Stochastic Optimization") with L2 weight decay
/// added to the gradient of the decaying tensors, the way Liang et al. regularise Mult-DAE.
struct AdamOptimizer {
    var learningRate: Float
    var weightDecay: Float
    var beta1: Float = 0.9
    var beta2: Float = 0.999
    var epsilon: Float = 1e-8
    /// Steps taken so far (for the bias correction).
    private(set) var steps = 0
    let threads: Int

    init(learningRate: Float, weightDecay: Float, threads: Int) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.threads = threads
    }

    /// One update of every tensor from its gradient. Runs on `threads` workers over fixed
    /// element ranges, so the result does not depend on scheduling.
    mutating func step(_ tensors: [TrainableTensor]) {
        steps += 1
        let t = Float(steps)
        let rate = learningRate * (1 - pow(beta2, t)).squareRoot() / (1 - pow(beta1, t))
        let (beta1, beta2, epsilon) = (self.beta1, self.beta2, self.epsilon)
        for tensor in tensors {
            let decay = tensor.decays ? 2 * weightDecay : 0
            let value = SharedPointer(tensor.value), gradient = SharedPointer(tensor.gradient)
            let first = SharedPointer(tensor.firstMoment), second = SharedPointer(tensor.secondMoment)
            NeuralKernels.parallelRanges(count: tensor.count, grain: 16_384, threads: threads) { range in
                for i in range {
                    let g = gradient.base[i] + decay * value.base[i]
                    let m = beta1 * first.base[i] + (1 - beta1) * g
                    let v = beta2 * second.base[i] + (1 - beta2) * g * g
                    first.base[i] = m
                    second.base[i] = v
                    value.base[i] -= rate * m / (v.squareRoot() + epsilon)
                }
            }
        }
    }
}
