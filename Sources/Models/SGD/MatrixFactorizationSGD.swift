import COpenBLAS
import Dispatch
import Foundation

/// Biased matrix factorisation trained by stochastic gradient descent (seeds 000, 002, 004):
/// prediction `mu + b_u + b_i + p_u . q_i`, clipped to the rating scale (seed 000 §3.5).
///
/// What is implemented:
/// - Loss: squared error plus L2 penalties, applied per rating as in Surprise's SVD
///   (`regularisation` on factors, `biasRegularisation` on biases), optional gravity (seed 003).
/// - Updates: with `batchSize == 1`, one update per rating; with `batchSize > 1`, mini-batches
///   whose gradients are taken at the batch start, averaged per user/movie row, then applied.
/// - Parallelism: ratings are cut into a `blocks x blocks` grid by user and movie group;
///   the blocks of one stratum share no row and run on all cores at once (DSGD). Block
///   contents and the stratum order come from the seed, so one seed gives one model whatever
///   the core count.
/// - Adaptive schedule (seed 000 §3.4): after each epoch the validation RMSE is compared with
///   the best so far. An improvement grows the learning rate and the batch size by
///   `growth` (about 1 %); an epoch that does not improve by at least `plateau` (relative)
///   means a minimum is near or passed: both are cut by `decay`.
/// - Early stopping (seed 000 §3.3): after `patience` epochs without improvement training
///   stops and the parameters of the best epoch are returned. The validation ratings are
///   carved out of the training ratings (`validationFraction`) unless given explicitly; with
///   `refit`, a second run on all training ratings uses the best epoch count found.
/// - Initialisation: small Gaussian factors, or the truncated SVD of the mean-imputed residual
///   matrix (seed 004); biases start at zero (after the baseline's biases for the SVD start).
package struct MatrixFactorizationSGD: Sendable {
    /// How the factor matrices start.
    package enum Initialisation: Sendable, Equatable {
        /// Independent normal entries with this standard deviation.
        case gaussian(standardDeviation: Float)
        /// Truncated SVD of the sparse residual matrix `r - mu - b_u - b_i` (missing entries
        /// imputed by the baseline, i.e. zero), by randomized subspace iteration; `p = U sqrt(S)`,
        /// `q = V sqrt(S)`. Never forms the dense users x movies matrix.
        case truncatedSVD(powerIterations: Int)
    }

    package struct Configuration: Sendable, Equatable {
        /// Latent dimensions (0: biases only).
        package var k: Int
        /// Maximum number of epochs.
        package var epochs: Int
        /// Initial learning rate of the factors.
        package var learningRate: Float
        /// Initial learning rate of the biases.
        package var biasLearningRate: Float
        /// L2 penalty on factors, per rating.
        package var regularisation: Float
        /// L2 penalty on biases, per rating.
        package var biasRegularisation: Float
        /// Ratings per mini-batch at the start (1: plain SGD).
        package var batchSize: Int
        /// Apply the seed's adaptive learning rate and batch size.
        package var adaptive: Bool
        /// Factor applied to learning rate and batch size on a plateau or a worse epoch.
        package var decay: Float
        /// Factor applied to learning rate and batch size after an improving epoch.
        package var growth: Float
        /// Relative validation improvement below which an epoch counts as a plateau.
        package var plateau: Float
        /// Epochs without improvement before stopping (early stopping).
        package var patience: Int
        /// First epochs during which neither early stopping nor the decay applies.
        package var warmupEpochs: Int
        /// Fraction of the training ratings held out for validation (0: no validation,
        /// no early stopping; the schedule then watches the training error).
        package var validationFraction: Double
        /// After early stopping, retrain on all training ratings for the best epoch count.
        package var refit: Bool
        /// Weight of the gravity term (seed 003); 0 disables it.
        package var gravity: Float
        package var initialisation: Initialisation
        package var seed: UInt64
        /// Worker threads (1: sequential; results are identical either way).
        package var threads: Int
        /// Groups per side of the block grid; 0 chooses from the data size (8 for up to a few
        /// million ratings, up to 64 for tens of millions, so a block's rows stay cache-sized).
        package var blocks: Int
        package var ratingScale: ClosedRange<Float>

        /// Defaults tuned on ML-100K (5-fold CV) and ML-latest-small (random 90/10).
        package init(
            k: Int = 64, epochs: Int = 200, learningRate: Float = 0.02, biasLearningRate: Float = 0.02,
            regularisation: Float = 0.1, biasRegularisation: Float = 0.05, batchSize: Int = 1,
            adaptive: Bool = true, decay: Float = 0.5, growth: Float = 1.01, plateau: Float = 0.0002,
            patience: Int = 5, warmupEpochs: Int = 20, validationFraction: Double = 0.05, refit: Bool = true,
            gravity: Float = 0, initialisation: Initialisation = .gaussian(standardDeviation: 0.03), seed: UInt64 = 42,
            threads: Int = ProcessInfo.processInfo.activeProcessorCount, blocks: Int = 0,
            ratingScale: ClosedRange<Float> = 0.5...5.0
        ) {
            self.k = k
            self.epochs = epochs
            self.learningRate = learningRate
            self.biasLearningRate = biasLearningRate
            self.regularisation = regularisation
            self.biasRegularisation = biasRegularisation
            self.batchSize = batchSize
            self.adaptive = adaptive
            self.decay = decay
            self.growth = growth
            self.plateau = plateau
            self.patience = patience
            self.warmupEpochs = warmupEpochs
            self.validationFraction = validationFraction
            self.refit = refit
            self.gravity = gravity
            self.initialisation = initialisation
            self.seed = seed
            self.threads = threads
            self.blocks = blocks
            self.ratingScale = ratingScale
        }

        /// Throws ``ModelError/invalidParameter(name:value:requirement:)`` for values out of range.
        package func validate() throws {
            try ParameterCheck.integer("k", k, in: 0...4096)
            try ParameterCheck.earlyStopping(epochs: epochs, validationFraction: validationFraction, patience: patience)
            try ParameterCheck.real("learningRate", learningRate, in: .open(0, 1))
            try ParameterCheck.real("biasLearningRate", biasLearningRate, in: .closedOpen(0, 1))
            try ParameterCheck.nonNegative("regularisation", regularisation)
            try ParameterCheck.nonNegative("biasRegularisation", biasRegularisation)
            try ParameterCheck.integer("batchSize", batchSize, atLeast: 1)
            try ParameterCheck.real("decay", decay, in: .openClosed(0, 1))
            try ParameterCheck.real("growth", growth, in: .closedOpen(1, 2))
            try ParameterCheck.nonNegative("plateau", plateau)
            try ParameterCheck.integer("warmupEpochs", warmupEpochs, atLeast: 0)
            try ParameterCheck.nonNegative("gravity", gravity)
            switch initialisation {
            case .gaussian(let std):
                try ParameterCheck.nonNegative("initialisation standard deviation", std)
            case .truncatedSVD(let iterations):
                try ParameterCheck.integer("SVD power iterations", iterations, in: 0...50)
            }
            try ParameterCheck.integer("threads", threads, atLeast: 1)
            try ParameterCheck.integer("blocks", blocks, in: 0...256, note: "automatic")
            try ParameterCheck.finite("ratingScale", ratingScale)
        }

        /// The hyper-parameters as strings, for run metadata and the model file.
        package var parameters: [String: String] {
            let initText: String
            switch initialisation {
            case .gaussian(let std): initText = "gaussian(\(std))"
            case .truncatedSVD(let n): initText = "svd(\(n))"
            }
            return [
                "k": "\(k)", "epochs": "\(epochs)", "learningRate": "\(learningRate)",
                "biasLearningRate": "\(biasLearningRate)", "regularisation": "\(regularisation)",
                "biasRegularisation": "\(biasRegularisation)", "batchSize": "\(batchSize)",
                "adaptive": "\(adaptive)", "decay": "\(decay)", "growth": "\(growth)", "plateau": "\(plateau)",
                "patience": "\(patience)", "warmupEpochs": "\(warmupEpochs)", "validationFraction": "\(validationFraction)", "refit": "\(refit)",
                "gravity": "\(gravity)", "initialisation": initText, "seed": "\(seed)", "blocks": "\(blocks)",
            ]
        }
    }

    /// What one finished epoch reports.
    package struct EpochReport: Sendable, Equatable {
        package var epoch: Int
        /// RMSE on the training ratings during the epoch (before each update).
        package var trainingRMSE: Double
        /// RMSE on the validation ratings after the epoch, when there are any.
        package var validationRMSE: Double?
        package var learningRate: Float
        package var batchSize: Int
        package var seconds: Double
        /// Upper bound: remaining epochs at the mean epoch time.
        package var secondsRemaining: Double
        /// True for the refit pass on all training ratings.
        package var refitting: Bool
    }

    package var configuration: Configuration

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Trains on all ratings of `dataset`.
    package func fit(_ dataset: Dataset, progress: ProgressReporter = .silent,
                    onEpoch: ((EpochReport) -> Void)? = nil) throws -> FactorModel {
        try fit(ratings: dataset.ratings, users: dataset.users, movies: dataset.movies, progress: progress, onEpoch: onEpoch)
    }

    /// Trains on `ratings` (indices into `users` and `movies`). Validation ratings for early
    /// stopping are `validation` when given, else carved from `ratings` by
    /// `configuration.validationFraction`. Users and movies without training ratings get zero
    /// biases and vectors.
    package func fit(
        ratings: RatingTriples, users: IDIndex, movies: IDIndex, validation: RatingTriples? = nil,
        progress: ProgressReporter = .silent, onEpoch: ((EpochReport) -> Void)? = nil
    ) throws -> FactorModel {
        let c = configuration
        try c.validate()
        try TrainingInput.validate(ratings, users: users, movies: movies)
        var train = ratings
        var held = validation
        if held == nil, c.validationFraction > 0, ratings.count >= 20 {
            let split = try Splits.validation(from: ratings, fraction: c.validationFraction, seed: c.seed)
            train = split.train
            held = split.test
        }
        if let held { try TrainingInput.validate(held, users: users, movies: movies) }
        let started = Date()
        progress.step("MF-SGD training", [
            "ratings": "\(train.count)", "validation": "\(held?.count ?? 0)", "users": "\(users.count)",
            "movies": "\(movies.count)", "k": "\(c.k)",
        ])
        var run = try SGDRun(configuration: c, ratings: train, users: users.count, movies: movies.count)
        var result = try run.train(validation: held, maxEpochs: c.epochs, progress: progress, onEpoch: onEpoch, refitting: false)
        var bestEpoch = result.bestEpoch
        if c.refit, validation == nil, held != nil {
            // The validation ratings told how long to train; now learn from all of them.
            var fixed = c
            fixed.patience = Int.max / 2
            var again = try SGDRun(configuration: fixed, ratings: ratings, users: users.count, movies: movies.count)
            result = try again.train(validation: nil, maxEpochs: bestEpoch, progress: progress, onEpoch: onEpoch,
                                     refitting: true, schedule: result.schedule)
            run = again
            bestEpoch = result.bestEpoch
        }
        var parameters = c.parameters
        parameters["bestEpoch"] = "\(bestEpoch)"
        if let v = result.bestValidationRMSE { parameters["validationRMSE"] = "\(v)" }
        let model = run.model(users: users, movies: movies, parameters: parameters)
        progress.finish("MF-SGD trained", [
            "epochs": "\(bestEpoch)", "seconds": "\(Date().timeIntervalSince(started))",
            "validationRMSE": result.bestValidationRMSE.map { "\($0)" } ?? "-",
        ])
        return model
    }
}

extension MatrixFactorizationSGD.Configuration: TrainerSettings {
    package var dimensions: Int { get { k } set { k = newValue } }
    package var effort: Int { get { epochs } set { epochs = newValue } }
    package static var trialEffort: Int { 40 }
}
