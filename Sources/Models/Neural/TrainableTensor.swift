/// One trainable array of the neural embedder, with its gradient and Adam's two moment
/// estimates: four contiguous Float32 buffers of `count` entries, allocated once per run.
///
/// A class because the buffers are raw memory freed in `deinit`; only the training thread
/// that owns the network touches it (parallel kernels receive ``SharedPointer``s to disjoint
/// parts), so it is deliberately not `Sendable`.
package final class TrainableTensor {
    package let count: Int
    /// Whether the L2 weight decay applies (weights yes, biases no, as in Liang et al.).
    let decays: Bool
    package let value: UnsafeMutablePointer<Float>
    /// Written by the backward pass, read by the optimiser step.
    package let gradient: UnsafeMutablePointer<Float>
    let firstMoment: UnsafeMutablePointer<Float>
    let secondMoment: UnsafeMutablePointer<Float>

    init(count: Int, decays: Bool) {
        self.count = count
        self.decays = decays
        value = LargeBuffer.allocate(Float.self, capacity: count)
        gradient = LargeBuffer.allocate(Float.self, capacity: count)
        firstMoment = LargeBuffer.allocate(Float.self, capacity: count)
        secondMoment = LargeBuffer.allocate(Float.self, capacity: count)
        for buffer in [value, gradient, firstMoment, secondMoment] { buffer.initialize(repeating: 0, count: count) }
    }

    deinit {
        for buffer in [value, gradient, firstMoment, secondMoment] { LargeBuffer.free(buffer) }
    }

    /// The values, copied out.
    var values: [Float] { Array(UnsafeBufferPointer(start: value, count: count)) }

    /// Overwrites the values (a snapshot from ``values``); moments are left as they are.
    func restore(_ saved: [Float]) {
        saved.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            value.update(from: base, count: min(count, saved.count))
        }
    }
}
