import ArgumentParser
import Models

/// The neural model's output layer: a sampled softmax, or the full one whatever the catalogue.
struct SoftmaxOptions: ParsableArguments {
    @Option(name: .customLong("sampled-softmax"), help: ArgumentHelp("Neural: train with a sampled softmax, drawing this many negatives per mini-batch (Jean et al., \"On Using Very Large Target Vocabulary for Neural Machine Translation\", with the log-probability correction of Yi et al., \"Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations\"). Default: the full softmax up to 20000 movies, 2000 negatives above.", valueName: "negatives"))
    var sampledSoftmax: Int?

    @Flag(name: .customLong("full-softmax"), help: "Neural: a softmax over the whole catalogue whatever its size.")
    var fullSoftmax = false

    func validate() throws {
        if sampledSoftmax != nil, fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax exclude each other") }
        if let sampledSoftmax, !(1...1_000_000).contains(sampledSoftmax) {
            throw ValidationError("--sampled-softmax must be a number of negatives in 1...1000000, got \(sampledSoftmax)")
        }
    }

    /// Rejects these options for a model other than neural.
    func validate(for model: TrainCommand.Kind) throws {
        if model != .neural, sampledSoftmax != nil || fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax are for neural") }
    }

    func apply(to c: inout NeuralEmbedder.Configuration) {
        if let sampledSoftmax { c.softmax = .sampled(negatives: sampledSoftmax) }
        if fullSoftmax { c.softmax = .full }
    }
}
