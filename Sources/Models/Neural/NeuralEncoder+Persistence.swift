/// The encoder section of the model file (see ``FactorModel/save(to:)``).
extension NeuralEncoder {
    func write(to w: inout ByteWriter) {
        w.f32(likedThreshold)
        w.u32(UInt32(layers.count))
        for layer in layers {
            w.u32(UInt32(layer.inputs))
            w.u32(UInt32(layer.outputs))
            w.floats(layer.weights)
            w.floats(layer.bias)
        }
    }

    /// Reads the section, checking that it reads the model's `movieCount` movies and yields
    /// its `dimension`.
    static func read(from r: inout ByteReader, movieCount: Int, dimension: Int) throws -> NeuralEncoder {
        let threshold = try r.f32()
        let layerCount = Int(try r.u32())
        guard layerCount >= 1, layerCount <= r.remaining / 8 else { throw FormatProblem("encoder layer count \(layerCount) is invalid") }
        var layers: [NeuralLayer] = []
        var expectedInputs = movieCount
        for l in 0..<layerCount {
            let inputs = Int(try r.u32()), outputs = Int(try r.u32())
            guard inputs == expectedInputs, outputs >= 1 else {
                throw FormatProblem("encoder layer \(l) is \(inputs)x\(outputs), expected \(expectedInputs) inputs")
            }
            let weights = try r.floats(inputs * outputs)
            let bias = try r.floats(outputs)
            do {
                layers.append(try NeuralLayer(inputs: inputs, outputs: outputs, weights: weights, bias: bias))
            } catch {
                throw FormatProblem("encoder layer \(l): \(error)")
            }
            expectedInputs = outputs
        }
        guard expectedInputs == dimension else { throw FormatProblem("encoder gives \(expectedInputs) dimensions, the model has k = \(dimension)") }
        do {
            return try NeuralEncoder(layers: layers, likedThreshold: threshold)
        } catch {
            throw FormatProblem("encoder: \(error)")
        }
    }
}
