/// The encoder section of the model file (see ``FactorModel/save(to:)``).
extension NeuralEncoder {
    func write(to w: inout ByteWriter) {
        w.f32(likedThreshold)
        NeuralLayer.write(layers, to: &w)
    }

    /// Reads the section, checking that it reads the model's `movieCount` movies and yields
    /// its `dimension`.
    static func read(from r: inout ByteReader, movieCount: Int, dimension: Int) throws -> NeuralEncoder {
        let threshold = try r.f32()
        let layers = try NeuralLayer.read(from: &r, inputs: movieCount, outputs: dimension, section: "encoder")
        do {
            return try NeuralEncoder(layers: layers, likedThreshold: threshold)
        } catch {
            throw FormatProblem("encoder: \(error)")
        }
    }
}

/// The rating head section of the model file (see ``FactorModel/save(to:)``).
extension RatingHead {
    func write(to w: inout ByteWriter) {
        NeuralLayer.write(layers, to: &w)
    }

    /// Reads the section, checking that it reads two embeddings of the model's `dimension`
    /// and gives one output.
    static func read(from r: inout ByteReader, dimension: Int) throws -> RatingHead {
        let layers = try NeuralLayer.read(from: &r, inputs: 2 * dimension, outputs: 1, section: "rating head")
        do {
            return try RatingHead(layers: layers)
        } catch {
            throw FormatProblem("rating head: \(error)")
        }
    }
}

/// A chain of dense layers in the model file: u32 layer count L, then per layer u32 inputs I,
/// u32 outputs O, 4IO f32 weights row-major I x O, 4O f32 biases.
extension NeuralLayer {
    static func write(_ layers: [NeuralLayer], to w: inout ByteWriter) {
        w.u32(UInt32(layers.count))
        for layer in layers {
            w.u32(UInt32(layer.inputs))
            w.u32(UInt32(layer.outputs))
            w.floats(layer.weights)
            w.floats(layer.bias)
        }
    }

    /// Reads a chain whose first layer has `inputs` inputs and whose last has `outputs`
    /// outputs; `section` names it in errors.
    static func read(from r: inout ByteReader, inputs: Int, outputs: Int, section: String) throws -> [NeuralLayer] {
        let layerCount = Int(try r.u32())
        guard layerCount >= 1, layerCount <= r.remaining / 8 else { throw FormatProblem("\(section) layer count \(layerCount) is invalid") }
        var layers: [NeuralLayer] = []
        var expectedInputs = inputs
        for l in 0..<layerCount {
            let inputs = Int(try r.u32()), outputs = Int(try r.u32())
            guard inputs == expectedInputs, outputs >= 1 else {
                throw FormatProblem("\(section) layer \(l) is \(inputs)x\(outputs), expected \(expectedInputs) inputs")
            }
            let weights = try r.floats(inputs * outputs)
            let bias = try r.floats(outputs)
            do {
                layers.append(try NeuralLayer(inputs: inputs, outputs: outputs, weights: weights, bias: bias))
            } catch {
                throw FormatProblem("\(section) layer \(l): \(error)")
            }
            expectedInputs = outputs
        }
        guard expectedInputs == outputs else { throw FormatProblem("\(section) gives \(expectedInputs) outputs, expected \(outputs)") }
        return layers
    }
}
