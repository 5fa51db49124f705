import ArgumentParser
import Foundation
import Logging
import Models
import Pipeline

/// `latent train popularity|baseline|mf|als|neural`: fits a model from the database or from MovieLens files and
/// writes the model file (and, from the database, a `latent.model_runs` row).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model from the ratings in PostgreSQL or in MovieLens files.",
        discussion: """
            The defaults are the best settings found on ML-100K and ML-latest-small: a user who \
            passes nothing gets a good model. --tune runs a random search on a validation split \
            carved from the training data and trains with the winner. The last line on stdout \
            sums the run up: model=... k=... fit_seconds=... and, for rating models, train_rmse=...
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case popularity, baseline, mf, als, neural
    }

    @Argument(help: "The model: popularity (most training ratings first; lists only), baseline (biases only), mf (biased MF by SGD), als (ALS with biases and genres) or neural (the multinomial softmax model of Liang et al., \"Variational Autoencoders for Collaborative Filtering\", Mult-DAE; ranking scores, not ratings).")
    var model: Kind

    @OptionGroup var source: DataSourceOptions

    @Option(help: ArgumentHelp("Where to write the trained model.", valueName: "file"))
    var out: String

    @Option(help: "Latent dimensions (mf, als; neural: the embedding width).")
    var k: Int?

    @Option(help: "ALS iterations.")
    var iterations: Int?

    @Option(help: "Maximum SGD epochs, mf and neural (early stopping may end sooner).")
    var epochs: Int?

    @Option(help: "Random seed: same data and seed, same model.")
    var seed: UInt64?

    @Option(help: "ALS: regularisation of the user and movie vectors, also the genre prior's pull (tau' in Razafindrakoto's ALS with genre features).")
    var lambda: Float?

    @Option(help: "ALS: bias regularisation (gamma' in Razafindrakoto's ALS with genre features).")
    var gamma: Float?

    @Option(help: "ALS: genre vector regularisation.")
    var tau: Float?

    @Flag(name: .customLong("no-genres"), help: "ALS: leave out the genre prior (ALS with biases only, Razafindrakoto's Algorithm 1).")
    var noGenres = false

    @Option(name: .customLong("missing-weight"), help: "ALS: weight of the missing-data term (unrated pairs as weak ratings, Steck 2010; 0 gives Razafindrakoto's ALS with genre features exactly).")
    var missingWeight: Float?

    @Option(name: .customLong("missing-rating"), help: "ALS: the rating the missing-data term imputes for unrated pairs.")
    var missingRating: Float?

    @Option(name: .customLong("learning-rate"), help: "MF: initial learning rate; neural: Adam's step size.")
    var learningRate: Float?

    @Option(help: "MF: factor L2 penalty; baseline: bias shrinkage (both sides).")
    var regularisation: Float?

    @Option(name: .customLong("bias-regularisation"), help: "MF: bias L2 penalty.")
    var biasRegularisation: Float?

    @Option(name: .customLong("validation-fraction"), help: "MF, neural: share of the training ratings held out for early stopping; 0 runs exactly --epochs epochs with no refit.")
    var validationFraction: Double?

    @Option(help: "MF: weight of the gravity regulariser (Google's recommendation systems course), which pulls every predicted score towards 0; 0 disables it.")
    var gravity: Float?

    @Option(help: "MF: initial factors: gaussian or svd (truncated SVD of the ratings minus the baseline's biases).")
    var initialisation: String?

    @Option(help: "Neural: width of a hidden layer between the bag of movies and the embedding (0: none).")
    var hidden: Int?

    @Option(help: "Neural: probability of dropping each input movie while training.")
    var dropout: Float?

    @Option(name: .customLong("sampled-softmax"), help: ArgumentHelp("Neural: train with a sampled softmax, drawing this many negatives per mini-batch (Jean et al., \"On Using Very Large Target Vocabulary for Neural Machine Translation\", with the log-probability correction of Yi et al., \"Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations\"). Default: the full softmax up to 20000 movies, 2000 negatives above.", valueName: "negatives"))
    var sampledSoftmax: Int?

    @Flag(name: .customLong("full-softmax"), help: "Neural: a softmax over the whole catalogue whatever its size.")
    var fullSoftmax = false

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Search hyper-parameters on a validation split, then train with the best.")
    var tune = false

    @Option(name: .customLong("tune-trials"), help: "Configurations tried by --tune.")
    var tuneTrials = 8

    @Option(help: "Hold out this fraction of the ratings (random, seeded), train on the rest and report held-out metrics.")
    var holdout: Double = 0

    func validate() throws {
        if let k, k <= 0 { throw ValidationError("--k must be a positive number of latent dimensions, got \(k)") }
        if model == .baseline || model == .popularity, k != nil {
            throw ValidationError("--k does not apply to the \(model.rawValue) model (it has no factors)")
        }
        if model == .popularity, tune || regularisation != nil {
            throw ValidationError("--tune and --regularisation do not apply to popularity (it has no parameters)")
        }
        if let iterations, iterations <= 0 { throw ValidationError("--iterations must be positive, got \(iterations)") }
        if let epochs, epochs <= 0 { throw ValidationError("--epochs must be positive, got \(epochs)") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive, got \(threads)") }
        if model != .als, iterations != nil { throw ValidationError("--iterations is for als; mf takes --epochs") }
        if model != .mf, model != .neural, epochs != nil { throw ValidationError("--epochs is for mf and neural; als takes --iterations") }
        if model != .neural, hidden != nil || dropout != nil { throw ValidationError("--hidden and --dropout are for neural") }
        if model != .neural, sampledSoftmax != nil || fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax are for neural") }
        if sampledSoftmax != nil, fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax exclude each other") }
        if let sampledSoftmax, !(1...1_000_000).contains(sampledSoftmax) {
            throw ValidationError("--sampled-softmax must be a number of negatives in 1...1000000, got \(sampledSoftmax)")
        }
        if model != .als, missingWeight != nil || missingRating != nil || lambda != nil || gamma != nil || tau != nil || noGenres {
            throw ValidationError("--missing-weight, --missing-rating, --lambda, --gamma, --tau and --no-genres are for als")
        }
        if model != .mf, biasRegularisation != nil || gravity != nil || initialisation != nil
            || (model != .neural && (learningRate != nil || validationFraction != nil)) {
            throw ValidationError("--bias-regularisation, --gravity and --initialisation are for mf; --learning-rate and --validation-fraction for mf and neural")
        }
        if let initialisation, !["gaussian", "svd"].contains(initialisation) {
            throw ValidationError("--initialisation must be gaussian or svd, got '\(initialisation)'")
        }
        guard holdout >= 0, holdout < 0.5 else { throw ValidationError("--holdout must be in [0, 0.5), got \(holdout)") }
        guard tuneTrials >= 1 else { throw ValidationError("--tune-trials must be at least 1, got \(tuneTrials)") }
    }

    /// The configuration from the defaults and the flags given.
    func modelConfiguration() throws -> ModelConfiguration {
        switch model {
        case .popularity:
            return .popularity
        case .baseline:
            var c = BiasBaseline.Configuration()
            if let regularisation {
                c.userRegularisation = regularisation
                c.movieRegularisation = regularisation
            }
            return .baseline(c)
        case .mf:
            var c = MatrixFactorizationSGD.Configuration()
            if let k { c.k = k }
            if let epochs { c.epochs = epochs }
            if let seed { c.seed = seed }
            if let learningRate { c.learningRate = learningRate }
            if let regularisation { c.regularisation = regularisation }
            if let biasRegularisation { c.biasRegularisation = biasRegularisation }
            if let gravity { c.gravity = gravity }
            if let validationFraction {
                c.validationFraction = validationFraction
                if validationFraction == 0 { c.refit = false }
            }
            if initialisation == "svd" { c.initialisation = .truncatedSVD(powerIterations: 3) }
            if let threads { c.threads = threads }
            return .mf(c)
        case .als:
            var c = AlternatingLeastSquares.Configuration()
            if let k { c.k = k }
            if let iterations { c.iterations = iterations }
            if let seed { c.seed = seed }
            if let lambda {
                c.lambda = lambda
                c.tau = tau ?? lambda
            }
            if let gamma { c.gamma = gamma }
            if let tau { c.tau = tau }
            if noGenres { c.useGenres = false }
            if let missingWeight { c.missingWeight = missingWeight }
            if let missingRating { c.missingRating = missingRating }
            if let threads { c.threads = threads }
            return .als(c)
        case .neural:
            var c = NeuralEmbedder.Configuration()
            if let k { c.dimension = k }
            if let hidden { c.hidden = hidden }
            if let dropout { c.dropout = dropout }
            if let epochs { c.epochs = epochs }
            if let seed { c.seed = seed }
            if let learningRate { c.learningRate = learningRate }
            if let validationFraction { c.validationFraction = validationFraction }
            if let threads { c.threads = threads }
            if let sampledSoftmax { c.softmax = .sampled(negatives: sampledSoftmax) }
            if fullSoftmax { c.softmax = .full }
            return .neural(c)
        }
    }

    func run() throws {
        let logger = Logger(label: "latent.train")
        let progress = ProgressReporter(label: "latent.train")
        let configuration = try modelConfiguration()
        try configuration.validate()

        let loadStarted = Date()
        let (dataset, connection) = try source.load()
        let loadSeconds = Date().timeIntervalSince(loadStarted)
        guard !dataset.ratings.isEmpty else {
            throw CommandFailure("no ratings in \(source.label): nothing to train on")
        }
        logger.info("snapshot loaded", metadata: [
            "source": "\(source.label)", "ratings": "\(dataset.ratings.count)", "users": "\(dataset.users.count)",
            "movies": "\(dataset.movies.count)", "genres": "\(dataset.genres.genreCount)",
            "seconds": "\(MetricText.fixed(loadSeconds))",
        ])

        var job = TrainingJob(configuration: configuration)
        job.holdout = holdout
        job.holdoutSeed = seed ?? 1
        if tune { job.tuning = (tuneTrials, seed ?? 7) }
        let outcome = try job.run(
            on: dataset, sourceLabel: source.label, loadSeconds: loadSeconds, savingTo: out,
            runs: connection.map(ModelRunStore.init(connection:)), progress: progress, logger: logger)
        for trial in outcome.trials {
            let score = trial.ndcg.map { "validation_ndcg@10=\(MetricText.fixed($0))" } ?? "validation_rmse=\(MetricText.fixed(trial.validation.rmse))"
            print("trial \(score) \(HyperparameterSearch.describe(trial.configuration))")
        }
        print(outcome.summary)
    }
}
