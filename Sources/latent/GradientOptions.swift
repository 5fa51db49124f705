import ArgumentParser
import Models

/// How the models trained by gradient descent learn: the step size and early-stopping share of
/// mf, neural and mlp, and MF's penalties, gravity and starting factors.
struct GradientOptions: ParsableArguments {
    @Option(name: .customLong("learning-rate"), help: "MF: initial learning rate; neural, mlp: Adam's step size.")
    var learningRate: Float?

    @Option(help: "MF: factor L2 penalty; baseline: bias shrinkage (both sides).")
    var regularisation: Float?

    @Option(name: .customLong("bias-regularisation"), help: "MF: bias L2 penalty.")
    var biasRegularisation: Float?

    @Option(name: .customLong("validation-fraction"), help: "MF, neural, mlp: share of the training ratings held out for early stopping; 0 runs exactly --epochs epochs with no refit.")
    var validationFraction: Double?

    @Option(help: "MF: weight of the gravity regulariser (Google's recommendation systems course), which pulls every predicted score towards 0; 0 disables it.")
    var gravity: Float?

    /// MF's starting factors.
    enum Initialisation: String, ExpressibleByArgument, CaseIterable {
        case gaussian, svd
    }

    @Option(help: "MF: initial factors: gaussian or svd (truncated SVD of the ratings minus the baseline's biases).")
    var initialisation: Initialisation?

    /// Rejects these options for a model they do not apply to (`--regularisation` is also the
    /// baseline's; popularity's is rejected with `--tune`).
    func validate(for model: TrainCommand.Kind) throws {
        if model != .mf, biasRegularisation != nil || gravity != nil || initialisation != nil
            || (model != .neural && model != .mlp && (learningRate != nil || validationFraction != nil)) {
            throw ValidationError("--bias-regularisation, --gravity and --initialisation are for mf; --learning-rate and --validation-fraction for mf, neural and mlp")
        }
    }

    func apply(to c: inout MatrixFactorizationSGD.Configuration) {
        if let learningRate { c.learningRate = learningRate }
        if let regularisation { c.regularisation = regularisation }
        if let biasRegularisation { c.biasRegularisation = biasRegularisation }
        if let gravity { c.gravity = gravity }
        if let validationFraction {
            c.validationFraction = validationFraction
            if validationFraction == 0 { c.refit = false }
        }
        if initialisation == .svd { c.initialisation = .truncatedSVD(powerIterations: 3) }
    }

    func apply(to c: inout NeuralEmbedder.Configuration) {
        if let learningRate { c.learningRate = learningRate }
        if let validationFraction { c.validationFraction = validationFraction }
    }

    func apply(to c: inout RatingMLP.Configuration) {
        if let learningRate { c.learningRate = learningRate }
        if let validationFraction { c.validationFraction = validationFraction }
    }

    /// The baseline's bias shrinkage, on both sides.
    func apply(to c: inout BiasBaseline.Configuration) {
        guard let regularisation else { return }
        c.userRegularisation = regularisation
        c.movieRegularisation = regularisation
    }
}
