/// One dense layer of a ``NeuralEncoder``: `output = tanh(input · weights + bias)`.
package struct NeuralLayer: Sendable, Equatable {
    /// Width of the input.
    package let inputs: Int
    /// Width of the output.
    package let outputs: Int
    /// Row-major `inputs x outputs`: row `i` is what input `i` adds to the pre-activation.
    package let weights: [Float]
    /// One entry per output.
    package let bias: [Float]

    /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` when the array sizes do
    /// not match the widths.
    package init(inputs: Int, outputs: Int, weights: [Float], bias: [Float]) throws {
        guard inputs >= 1, outputs >= 1 else {
            throw ModelError.invalidParameter(name: "layer shape", value: "\(inputs)x\(outputs)", requirement: "at least 1x1")
        }
        guard weights.count == inputs * outputs, bias.count == outputs else {
            throw ModelError.invalidParameter(
                name: "layer arrays", value: "\(weights.count) weights, \(bias.count) biases",
                requirement: "\(inputs * outputs) weights and \(outputs) biases for a \(inputs)x\(outputs) layer")
        }
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.bias = bias
    }
}
