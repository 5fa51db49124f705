/// The input side of a trained neural embedder: maps a user's bag of liked movies to their
/// embedding, so a user the model has never seen gets an embedding (and a top-N list against
/// the model's movie factors) from their first ratings, with no retraining.
///
/// The bag is L2-normalised (every movie weighs `1/sqrt(n)`), the first layer is a sparse
/// gather-sum of its weight rows, and every layer applies tanh.
package struct NeuralEncoder: Sendable, Equatable {
    /// `layers[0].inputs` is the number of movies; each layer's output feeds the next; the
    /// last layer's output is the embedding.
    package let layers: [NeuralLayer]
    /// Ratings at or above this value put a movie in the user's bag.
    package let likedThreshold: Float

    /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` when there is no layer
    /// or consecutive widths do not match.
    package init(layers: [NeuralLayer], likedThreshold: Float) throws {
        guard !layers.isEmpty else {
            throw ModelError.invalidParameter(name: "layers", value: "[]", requirement: "at least one layer")
        }
        for (previous, next) in zip(layers, layers.dropFirst()) where previous.outputs != next.inputs {
            throw ModelError.invalidParameter(
                name: "layer widths", value: "\(previous.outputs) then \(next.inputs)", requirement: "equal (each layer feeds the next)")
        }
        guard likedThreshold.isFinite else {
            throw ModelError.invalidParameter(name: "likedThreshold", value: "\(likedThreshold)", requirement: "finite")
        }
        self.layers = layers
        self.likedThreshold = likedThreshold
    }

    /// Number of movies the first layer reads (the model's catalogue).
    package var movieCount: Int { layers[0].inputs }
    /// Width of the embedding (the model's `k`).
    package var dimension: Int { layers[layers.count - 1].outputs }

    /// The embedding of a user whose bag holds `movies` (dense movie indices of the model,
    /// normally the movies they rated at or above ``likedThreshold``). Indices outside the
    /// catalogue (movies added after training) are ignored, and so are repeats.
    package func embed(movies: [Int32]) -> [Float] {
        var bag = movies.filter { $0 >= 0 && Int($0) < movieCount }
        bag.sort()
        bag.removeSubsequentDuplicates()
        var hidden = layers[0].bias
        let scale: Float = bag.isEmpty ? 0 : 1 / Float(bag.count).squareRoot()
        layers[0].weights.withUnsafeBufferPointer { w in
            bag.withUnsafeBufferPointer { items in
                hidden.withUnsafeMutableBufferPointer { out in
                    guard let wb = w.baseAddress, let ob = out.baseAddress else { return }
                    NeuralKernels.gatherSum(weights: wb, width: layers[0].outputs, movies: items, scale: scale, into: ob)
                }
            }
        }
        NeuralKernels.tanhInPlace(&hidden)
        for layer in layers.dropFirst() {
            var next = layer.bias
            layer.weights.withUnsafeBufferPointer { w in
                hidden.withUnsafeBufferPointer { x in
                    next.withUnsafeMutableBufferPointer { y in
                        guard let wb = w.baseAddress, let xb = x.baseAddress, let yb = y.baseAddress else { return }
                        // next = W^T h + bias, W row-major inputs x outputs.
                        BLAS.gemvTransposed(rows: layer.inputs, columns: layer.outputs, matrix: wb, vector: xb, beta: 1, result: yb)
                    }
                }
            }
            NeuralKernels.tanhInPlace(&next)
            hidden = next
        }
        return hidden
    }
}

extension Array where Element: Equatable {
    /// Drops each element equal to the one before it (on a sorted array: keeps distinct values).
    fileprivate mutating func removeSubsequentDuplicates() {
        guard count > 1 else { return }
        var kept = 1
        for i in 1..<count where self[i] != self[kept - 1] {
            self[kept] = self[i]
            kept += 1
        }
        removeLast(count - kept)
    }
}
