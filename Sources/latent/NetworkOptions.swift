import ArgumentParser
import Models

/// The layers of the neural and mlp networks: a hidden width and the neural model's input dropout.
struct NetworkOptions: ParsableArguments {
    @Option(help: "Neural: width of a hidden layer between the bag of movies and the embedding (0: none); mlp: width of the first hidden layer (the next two halve it).")
    var hidden: Int?

    @Option(help: "Neural: probability of dropping each input movie while training.")
    var dropout: Float?

    /// Rejects these options for a model they do not apply to.
    func validate(for model: TrainCommand.Kind) throws {
        if model != .neural, dropout != nil { throw ValidationError("--dropout is for neural") }
        if model != .neural, model != .mlp, hidden != nil { throw ValidationError("--hidden is for neural and mlp") }
        if model == .mlp, let hidden, hidden < 4 { throw ValidationError("--hidden for mlp must be at least 4 (the next layers halve it), got \(hidden)") }
    }

    func apply(to c: inout NeuralEmbedder.Configuration) {
        if let hidden { c.hidden = hidden }
        if let dropout { c.dropout = dropout }
    }

    func apply(to c: inout RatingMLP.Configuration) {
        if let hidden { c.hidden = [hidden, hidden / 2, hidden / 4] }
    }
}
