import ArgumentParser
import Foundation
import Logging
import Models
import Pipeline

/// `latent train popularity|baseline|mf|als|neural|ials|mlp|ease|blend`: fits a model from the database or from MovieLens files and
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
        case popularity, baseline, mf, als, neural, ials, mlp, ease, blend
    }

    @Argument(help: "The model: popularity (most training ratings first; lists only), baseline (biases only), mf (biased MF by SGD), als (ALS with biases and genres), neural (the multinomial softmax model of Liang et al., \"Variational Autoencoders for Collaborative Filtering\", Mult-DAE; ranking scores, not ratings), ials (ALS with the ranking objective, the same as als --objective ranking), mlp (the rating network of the study of latent spaces for user preferences, Brazilian Journal of Technology 2021: embeddings through three ReLU layers, Gaussian noise, clipped output) ease (Steck, \"Embarrassingly shallow autoencoders for sparse data\": an item-item closed form; lists only, catalogues up to --max-movies) or blend (EASE's scores plus --blend-weight times ials'; lists only; --k and --iterations are ials').")
    var model: Kind

    @OptionGroup var source: DataSourceOptions

    @Option(help: ArgumentHelp("Where to write the trained model.", valueName: "file"))
    var out: String

    @OptionGroup var alsObjective: ALSObjectiveOptions

    @Option(help: "Latent dimensions (mf, als, ials; neural, mlp: the embedding width).")
    var k: Int?

    @Option(help: "ALS iterations.")
    var iterations: Int?

    @Option(help: "Maximum epochs, mf, neural and mlp (early stopping may end sooner).")
    var epochs: Int?

    @Option(help: "Random seed: same data and seed, same model.")
    var seed: UInt64?

    @OptionGroup var alsRegularisation: ALSRegularisationOptions
    @OptionGroup var gradient: GradientOptions
    @OptionGroup var network: NetworkOptions
    @OptionGroup var ease: EASEOptions
    @OptionGroup var softmax: SoftmaxOptions

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Search hyper-parameters on a validation split, then train with the best.")
    var tune = false

    @Option(name: .customLong("tune-trials"), help: "Configurations tried by --tune.")
    var tuneTrials = 8

    @Option(help: "Hold out this fraction of the ratings (random, seeded), train on the rest and report held-out metrics.")
    var holdout: Double = 0

    func validate() throws {
        try source.requireSource()
        try alsObjective.validate(for: model)
        if let k, k <= 0 { throw ValidationError("--k must be a positive number of latent dimensions, got \(k)") }
        if model == .baseline || model == .popularity, k != nil {
            throw ValidationError("--k does not apply to the \(model.rawValue) model (it has no factors)")
        }
        if model == .popularity, tune || gradient.regularisation != nil {
            throw ValidationError("--tune and --regularisation do not apply to popularity (it has no parameters)")
        }
        if let iterations, iterations <= 0 { throw ValidationError("--iterations must be positive, got \(iterations)") }
        if let epochs, epochs <= 0 { throw ValidationError("--epochs must be positive, got \(epochs)") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive, got \(threads)") }
        if !alternating, iterations != nil { throw ValidationError("--iterations is for als; mf takes --epochs") }
        if model != .mf, model != .neural, model != .mlp, epochs != nil { throw ValidationError("--epochs is for mf, neural and mlp; als takes --iterations") }
        try network.validate(for: model)
        try softmax.validate(for: model)
        try alsRegularisation.validate(for: model, ranking: alsObjective.ranks(model))
        if model == .ease, k != nil { throw ValidationError("--k does not apply to ease (its size is the catalogue's)") }
        try ease.validate(for: model)
        try gradient.validate(for: model)
        guard holdout >= 0, holdout < 0.5 else { throw ValidationError("--holdout must be in [0, 0.5), got \(holdout)") }
        guard tuneTrials >= 1 else { throw ValidationError("--tune-trials must be at least 1, got \(tuneTrials)") }
    }

    /// ALS with either objective.
    private var alternating: Bool { model == .als || model == .ials || model == .blend }

    /// The configuration from the defaults and the flags given.
    func modelConfiguration() -> ModelConfiguration {
        let common = SettingsChange(seed: seed, dimensions: k, threads: threads, effort: iterations ?? epochs)
        return modelDefaults().changing(common)
    }

    /// The model's defaults with the flags given, but for `--seed`, `--k`, `--threads` and the
    /// iterations or epochs.
    private func modelDefaults() -> ModelConfiguration {
        switch model {
        case .popularity:
            return .popularity
        case .baseline:
            var c = BiasBaseline.Configuration()
            gradient.apply(to: &c)
            return .baseline(c)
        case .mf:
            var c = MatrixFactorizationSGD.Configuration()
            gradient.apply(to: &c)
            return .mf(c)
        case .als, .ials:
            let ranking = alsObjective.ranks(model)
            var c = ranking ? AlternatingLeastSquares.Configuration.rankingDefaults : AlternatingLeastSquares.Configuration()
            alsRegularisation.apply(to: &c)
            alsObjective.apply(to: &c)
            return ranking ? .ials(c) : .als(c)
        case .neural:
            var c = NeuralEmbedder.Configuration()
            gradient.apply(to: &c)
            network.apply(to: &c)
            softmax.apply(to: &c)
            return .neural(c)
        case .mlp:
            var c = RatingMLP.Configuration()
            gradient.apply(to: &c)
            network.apply(to: &c)
            return .mlp(c)
        case .blend:
            var c = EASEBlend.Configuration()
            ease.apply(to: &c.ease)
            if let weight = ease.blendWeight { c.weight = weight }
            return .blend(c)
        case .ease:
            var c = EASE.Configuration()
            if let lambda = alsRegularisation.lambda { c.lambda = lambda }
            ease.apply(to: &c)
            return .ease(c)
        }
    }

    func run() throws {
        let logger = Logger(label: "latent.train")
        let progress = ProgressReporter(label: "latent.train")
        let configuration = modelConfiguration()
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
