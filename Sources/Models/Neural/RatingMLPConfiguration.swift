import Foundation

extension RatingMLP {
    /// Hyper-parameters of the rating MLP. The study of latent spaces for user preferences
    /// (Brazilian Journal of Technology, 2021, §4.9 and Appendix B) gives three ReLU hidden
    /// layers and a Gaussian noise layer of standard deviation 0.01 instead of weight decay, but
    /// not the widths or the embedding size; these were chosen on seeded random 90/10 splits
    /// (`latent train mlp --holdout 0.1 --seed 1`, test RMSE, release build, 2 cores):
    ///
    ///     embeddings k, hidden widths, Adam step     ML-100K          ML-latest-small
    ///     32, 64-32-16, 1e-3                         0.9385 (2.1 s)   0.8514 (9.1 s)
    ///     16, 64-32-16, 1e-3 (the defaults)          0.9372 (2.5 s)   0.8493 (2.8 s)
    ///     16, 64-32-16, 3e-4                         0.9341 (3.3 s)   0.8543 (6.8 s)
    ///      8, 32-16-8,  1e-3                         0.9333 (1.1 s)   0.8494 (2.8 s)
    ///     32, 128-64-32, 3e-4                        0.9349 (7.4 s)   -
    ///     MF by SGD, defaults                        0.9030 (0.4 s)   0.8354 (0.4 s)
    ///     biases only                                0.9396           0.8537
    ///
    /// Every setting stops early after 3 to 6 epochs: the network fits the training ratings
    /// quickly and the noise regularises little. As in the study, it ends slightly worse than
    /// MF; Rendle, Krichene, Zhang and Anderson ("Neural collaborative filtering vs. matrix
    /// factorization revisited", 2020) show an MLP learns a dot product only with difficulty.
    package struct Configuration: Sendable, Equatable {
        /// Width of the user and movie embeddings: the model's `k`.
        package var dimension = 16
        /// Widths of the three ReLU hidden layers, input side first.
        package var hidden = [64, 32, 16]
        /// Standard deviation of the Gaussian noise added to the concatenated embeddings while
        /// training (the study's regulariser, used instead of weight decay).
        package var noise: Float = 0.01
        /// Adam's step size.
        package var learningRate: Float = 0.001
        /// Ratings per mini-batch.
        package var batchSize = 256
        /// Most epochs (passes over the training ratings); early stopping usually ends sooner.
        package var epochs = 60
        /// Share of the training ratings held out to choose the epoch by RMSE; 0 trains exactly
        /// ``epochs`` epochs.
        package var validationFraction = 0.1
        /// Epochs without a better validation RMSE before training stops.
        package var patience = 3
        /// Standard deviation of the initial embeddings.
        package var initialScale: Float = 0.05
        /// Seed of the initial weights, the rating order and the noise; same data, same seed and
        /// thread count, same model.
        package var seed: UInt64 = 42
        /// Worker threads (OpenBLAS and the optimiser).
        package var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Predictions are clipped to this range (the study's clipped linear output).
        package var ratingScale: ClosedRange<Float> = 0.5...5.0

        /// Every default; set the fields to change them.
        package init() {}

        /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` for values out of range.
        package func validate() throws {
            try ParameterCheck.integer("dimension", dimension, in: 1...4096)
            try ParameterCheck.require(
                hidden.count == 3 && hidden.allSatisfy { (1...8192).contains($0) }, "hidden", hidden, "three widths between 1 and 8192")
            try ParameterCheck.nonNegative("noise", noise)
            try ParameterCheck.real("learningRate", learningRate, in: .open(0, 1))
            try ParameterCheck.integer("batchSize", batchSize, in: 1...100_000)
            try ParameterCheck.earlyStopping(epochs: epochs, validationFraction: validationFraction, patience: patience)
            try ParameterCheck.positive("initialScale", initialScale)
            try ParameterCheck.integer("threads", threads, atLeast: 1)
            try ParameterCheck.finite("ratingScale", ratingScale)
        }

        /// The hyper-parameters as strings, for run metadata and the model file.
        package var parameters: [String: String] {
            [
                "k": "\(dimension)", "hidden": hidden.map(String.init).joined(separator: ","), "noise": "\(noise)",
                "learningRate": "\(learningRate)", "batchSize": "\(batchSize)", "epochs": "\(epochs)",
                "validationFraction": "\(validationFraction)", "patience": "\(patience)",
                "initialScale": "\(initialScale)", "seed": "\(seed)",
            ]
        }
    }
}

extension RatingMLP.Configuration: TrainerSettings {
    package var dimensions: Int { get { dimension } set { dimension = newValue } }
    package var effort: Int { get { epochs } set { epochs = newValue } }
    package static var trialEffort: Int { 40 }
}
