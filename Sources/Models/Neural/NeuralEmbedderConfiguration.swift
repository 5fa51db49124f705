import Foundation

extension NeuralEmbedder {
    /// Hyper-parameters of the neural embedder. Defaults follow Liang et al.'s Mult-DAE
    /// (d = 200, no hidden layer, input dropout 0.5, tanh, batches of 500 users,
    /// weight decay 0.01 / 500) with early stopping on a validation NDCG. Measured on random
    /// 90/10 splits of ML-100K and ML-latest-small (NDCG@10, training movies excluded): a
    /// hidden layer of 600 was worse (0.281 against 0.298, 0.203 against 0.236), so was a bag
    /// of every rated movie instead of those rated 3.5 or more (0.286 against 0.296 on
    /// ML-100K), and a refit on all the ratings gained nothing (0.297 against 0.296, 0.233
    /// against 0.237) for up to twice the time. Adam's step is 3e-3, not the paper's 1e-3: it
    /// reached the same NDCG (0.296, 0.237 against 0.298, 0.236) in a third to a half of the
    /// epochs, which matters because publishing fits twice (validation, then every rating).
    package struct Configuration: Sendable, Equatable {
        /// Width of the user embedding: the model's `k`.
        package var dimension: Int
        /// Width of a hidden layer between the bag and the embedding (0: none, the input
        /// layer gives the embedding directly).
        package var hidden: Int
        /// Ratings at or above this put a movie in the user's bag.
        package var likedThreshold: Float
        /// Probability of dropping each input movie during training.
        package var dropout: Float
        /// Adam's step size.
        package var learningRate: Float
        /// `λ` of the penalty `λ Σ‖W‖²` on the weight matrices (not the biases), added to the
        /// mean per-user loss.
        package var weightDecay: Float
        /// Users per mini-batch.
        package var batchSize: Int
        /// Epochs (passes over the users with a non-empty bag); with validation, the most
        /// epochs early stopping allows.
        package var epochs: Int
        /// Share of the training ratings held out to choose the epoch by NDCG; 0 trains
        /// exactly ``epochs`` epochs.
        package var validationFraction: Double
        /// Epochs between two validation measurements on small data (see
        /// ``measurementInterval(batchesPerEpoch:)``).
        package var evaluationInterval: Int
        /// Measurements without a better validation NDCG before training stops on small data
        /// (see ``measurementPatience(batchesPerEpoch:)``).
        package var patience: Int
        /// The cutoff of the validation NDCG.
        package var validationCutoff: Int
        /// After early stopping, train again on all the ratings for the chosen number of
        /// epochs (instead of keeping the best network trained without the validation part).
        package var refit: Bool
        /// Seed of the initial weights, the user order and the dropout masks; same data, same
        /// seed and thread count, same model.
        package var seed: UInt64
        /// Worker threads (OpenBLAS and the sparse and row-wise loops).
        package var threads: Int
        /// The rating scale recorded in the model (its scores are ranking scores, not ratings).
        package var ratingScale: ClosedRange<Float>
        /// Full or sampled softmax for the output layer; automatic decides by catalogue size.
        package var softmax: NeuralSoftmax

        package init(
            dimension: Int = 200, hidden: Int = 0, likedThreshold: Float = 3.5, dropout: Float = 0.5,
            learningRate: Float = 0.003, weightDecay: Float = 0.00002, batchSize: Int = 500, epochs: Int = 400,
            validationFraction: Double = 0.1, evaluationInterval: Int = 5, patience: Int = 6, validationCutoff: Int = 10,
            refit: Bool = false, seed: UInt64 = 42, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
            ratingScale: ClosedRange<Float> = 0.5...5.0, softmax: NeuralSoftmax = .automatic
        ) {
            self.softmax = softmax
            self.dimension = dimension
            self.hidden = hidden
            self.likedThreshold = likedThreshold
            self.dropout = dropout
            self.learningRate = learningRate
            self.weightDecay = weightDecay
            self.batchSize = batchSize
            self.epochs = epochs
            self.validationFraction = validationFraction
            self.evaluationInterval = evaluationInterval
            self.patience = patience
            self.validationCutoff = validationCutoff
            self.refit = refit
            self.seed = seed
            self.threads = threads
            self.ratingScale = ratingScale
        }

        /// Users whose validation NDCG early stopping measures: a seeded sample on large data,
        /// where scoring every user would cost as much as an epoch.
        static let validationUsers = 20_000

        /// Optimiser steps between two validation measurements at most. An epoch of ML-100K is
        /// two steps and one of 200,000 users four hundred: counted in epochs alone, the
        /// interval that suits the small sets would let a large one train for minutes past its
        /// best.
        static let stepsPerMeasurement = 50

        /// Epochs between two validation measurements: ``evaluationInterval``, or fewer when an
        /// epoch is many optimiser steps (one on data of some 25,000 users or more).
        package func measurementInterval(batchesPerEpoch: Int) -> Int {
            let steps = max(batchesPerEpoch, 1)
            return max(1, min(evaluationInterval, (Self.stepsPerMeasurement + steps - 1) / steps))
        }

        /// Measurements without a better validation NDCG before training stops: ``patience``,
        /// or fewer when measurements are many steps apart, so that training goes on for about
        /// `patience × stepsPerMeasurement` steps past its best and for at least two
        /// measurements (an epoch of 200,000 users is four hundred steps).
        package func measurementPatience(batchesPerEpoch: Int) -> Int {
            let stepsApart = measurementInterval(batchesPerEpoch: batchesPerEpoch) * max(batchesPerEpoch, 1)
            let steps = patience * Self.stepsPerMeasurement
            return max(min(2, patience), min(patience, (steps + stepsApart - 1) / stepsApart))
        }

        /// Encoder layer widths: the optional hidden layer, then the embedding.
        var widths: [Int] { hidden > 0 ? [hidden, dimension] : [dimension] }

        /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` for values out of range.
        package func validate() throws {
            try ParameterCheck.integer("dimension", dimension, in: 1...4096)
            try ParameterCheck.integer("hidden", hidden, in: 0...8192, note: "no hidden layer")
            try ParameterCheck.finite("likedThreshold", likedThreshold)
            try ParameterCheck.real("dropout", dropout, in: .closedOpen(0, 1))
            try ParameterCheck.real("learningRate", learningRate, in: .open(0, 1))
            try ParameterCheck.nonNegative("weightDecay", weightDecay)
            try ParameterCheck.integer("batchSize", batchSize, in: 1...100_000)
            try ParameterCheck.earlyStopping(epochs: epochs, validationFraction: validationFraction, patience: patience)
            try ParameterCheck.integer("evaluationInterval", evaluationInterval, atLeast: 1)
            try ParameterCheck.integer("validationCutoff", validationCutoff, atLeast: 1)
            try ParameterCheck.integer("threads", threads, atLeast: 1)
            try ParameterCheck.finite("ratingScale", ratingScale)
            if case .sampled(let negatives) = softmax {
                try ParameterCheck.integer("softmax negatives", negatives, in: 1...1_000_000)
            }
        }

        /// The hyper-parameters as strings, for run metadata and the model file.
        package var parameters: [String: String] {
            [
                "k": "\(dimension)", "hidden": "\(hidden)", "likedThreshold": "\(likedThreshold)", "dropout": "\(dropout)",
                "learningRate": "\(learningRate)", "weightDecay": "\(weightDecay)", "batchSize": "\(batchSize)",
                "epochs": "\(epochs)", "validationFraction": "\(validationFraction)",
                "evaluationInterval": "\(evaluationInterval)", "patience": "\(patience)",
                "validationCutoff": "\(validationCutoff)", "refit": "\(refit)", "seed": "\(seed)",
                "softmax": "\(softmax)",
            ]
        }
    }
}

extension NeuralEmbedder.Configuration: TrainerSettings {
    package var dimensions: Int { get { dimension } set { dimension = newValue } }
    package var effort: Int { get { epochs } set { epochs = newValue } }
    package static var trialEffort: Int { 40 }
}
