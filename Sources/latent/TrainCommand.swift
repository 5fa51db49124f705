import ArgumentParser
import Foundation
import Logging
import Models
import Pipeline

/// `latent train popularity|baseline|mf|als|neural|ials|mlp|ease`: fits a model from the database or from MovieLens files and
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
        case popularity, baseline, mf, als, neural, ials, mlp, ease
    }

    /// What ALS fits: ratings, or which movies a user rates (the "ials" model).
    enum Objective: String, ExpressibleByArgument, CaseIterable {
        case rating, ranking
    }

    @Argument(help: "The model: popularity (most training ratings first; lists only), baseline (biases only), mf (biased MF by SGD), als (ALS with biases and genres), neural (the multinomial softmax model of Liang et al., \"Variational Autoencoders for Collaborative Filtering\", Mult-DAE; ranking scores, not ratings), ials (ALS with the ranking objective, the same as als --objective ranking), mlp (the rating network of the study of latent spaces for user preferences, Brazilian Journal of Technology 2021: embeddings through three ReLU layers, Gaussian noise, clipped output) or ease (Steck, \"Embarrassingly shallow autoencoders for sparse data\": an item-item closed form; lists only, catalogues up to --max-movies).")
    var model: Kind

    @OptionGroup var source: DataSourceOptions

    @Option(help: ArgumentHelp("Where to write the trained model.", valueName: "file"))
    var out: String

    @Option(help: "ALS: rating (fit the ratings) or ranking (implicit-feedback ALS after Hu, Koren and Volinsky, \"Collaborative filtering for implicit feedback datasets\": which movies a user rates; trains the ials model). Default: rating.")
    var objective: Objective?

    @Option(name: .customLong("unobserved-weight"), help: "ials: weight of every user-movie pair's pull of its score towards 0 (alpha_0 in Rendle et al., \"Revisiting the performance of iALS on item recommendation benchmarks\").")
    var unobservedWeight: Float?

    @Option(name: .customLong("confidence-weight"), help: "ials: a rated pair's confidence is 1 + this times its rating (Hu, Koren and Volinsky).")
    var confidenceWeight: Float?

    @Option(name: .customLong("positive-threshold"), help: "ials: ratings below this are not positives (their pairs count as unobserved); 0 takes every rating.")
    var positiveThreshold: Float?

    @Option(help: "Latent dimensions (mf, als, ials; neural, mlp: the embedding width).")
    var k: Int?

    @Option(help: "ALS iterations.")
    var iterations: Int?

    @Option(help: "Maximum epochs, mf, neural and mlp (early stopping may end sooner).")
    var epochs: Int?

    @Option(help: "Random seed: same data and seed, same model.")
    var seed: UInt64?

    @Option(help: "ALS: regularisation of the user and movie vectors, also the genre prior's pull (tau' in Razafindrakoto's ALS with genre features). EASE: the L2 penalty relative to the mean number of ratings per movie.")
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

    @Option(help: "MF: initial factors: gaussian or svd (truncated SVD of the ratings minus the baseline's biases).")
    var initialisation: String?

    @Option(help: "Neural: width of a hidden layer between the bag of movies and the embedding (0: none); mlp: width of the first hidden layer (the next two halve it).")
    var hidden: Int?

    @Option(help: "Neural: probability of dropping each input movie while training.")
    var dropout: Float?

    @Option(name: .customLong("max-movies"), help: "EASE: the largest catalogue it fits (its two movies x movies matrices take 4 bytes per entry each).")
    var maxMovies: Int?

    @Option(name: .customLong("liked-threshold"), help: "EASE: movies rated at or above this are a user's inputs (0: every rated movie).")
    var likedThreshold: Float?

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
        try source.requireSource()
        if objective != nil, model != .als, model != .ials {
            throw ValidationError("--objective is for als (--objective ranking trains the ials model), not \(model.rawValue)")
        }
        if model == .ials, objective == .rating {
            throw ValidationError("ials is ALS with the ranking objective: drop --objective rating, or train als")
        }
        if !ranksALS, unobservedWeight != nil || confidenceWeight != nil || positiveThreshold != nil {
            throw ValidationError("--unobserved-weight, --confidence-weight and --positive-threshold are for ials (als --objective ranking)")
        }
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
        if !alternating, iterations != nil { throw ValidationError("--iterations is for als; mf takes --epochs") }
        if model != .mf, model != .neural, model != .mlp, epochs != nil { throw ValidationError("--epochs is for mf, neural and mlp; als takes --iterations") }
        if model != .neural, dropout != nil { throw ValidationError("--dropout is for neural") }
        if model != .neural, sampledSoftmax != nil || fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax are for neural") }
        if sampledSoftmax != nil, fullSoftmax { throw ValidationError("--sampled-softmax and --full-softmax exclude each other") }
        if let sampledSoftmax, !(1...1_000_000).contains(sampledSoftmax) {
            throw ValidationError("--sampled-softmax must be a number of negatives in 1...1000000, got \(sampledSoftmax)")
        }
        if model != .neural, model != .mlp, hidden != nil { throw ValidationError("--hidden is for neural and mlp") }
        if model == .mlp, let hidden, hidden < 4 { throw ValidationError("--hidden for mlp must be at least 4 (the next layers halve it), got \(hidden)") }
        if !alternating, missingWeight != nil || missingRating != nil || (model != .ease && lambda != nil) || gamma != nil || tau != nil || noGenres {
            throw ValidationError("--missing-weight, --missing-rating, --gamma, --tau and --no-genres are for als; --lambda for als and ease")
        }
        if ranksALS, missingWeight != nil || missingRating != nil || gamma != nil {
            throw ValidationError("--missing-weight, --missing-rating and --gamma are for als with the rating objective (ials has no biases)")
        }
        if model == .ease, k != nil { throw ValidationError("--k does not apply to ease (its size is the catalogue's)") }
        if model != .ease, maxMovies != nil || likedThreshold != nil { throw ValidationError("--max-movies and --liked-threshold are for ease") }
        if let maxMovies, maxMovies <= 0 { throw ValidationError("--max-movies must be positive, got \(maxMovies)") }
        if model != .mf, biasRegularisation != nil || gravity != nil || initialisation != nil
            || (model != .neural && model != .mlp && (learningRate != nil || validationFraction != nil)) {
            throw ValidationError("--bias-regularisation, --gravity and --initialisation are for mf; --learning-rate and --validation-fraction for mf, neural and mlp")
        }
        if let initialisation, !["gaussian", "svd"].contains(initialisation) {
            throw ValidationError("--initialisation must be gaussian or svd, got '\(initialisation)'")
        }
        guard holdout >= 0, holdout < 0.5 else { throw ValidationError("--holdout must be in [0, 0.5), got \(holdout)") }
        guard tuneTrials >= 1 else { throw ValidationError("--tune-trials must be at least 1, got \(tuneTrials)") }
    }

    /// ALS with either objective.
    private var alternating: Bool { model == .als || model == .ials }

    /// ALS with the ranking objective: `ials`, or `als --objective ranking`.
    private var ranksALS: Bool { model == .ials || (model == .als && objective == .ranking) }

    /// The configuration from the defaults and the flags given.
    func modelConfiguration() throws -> ModelConfiguration {
        if ranksALS {
            var c = AlternatingLeastSquares.Configuration.rankingDefaults
            applyALSOptions(to: &c)
            if let unobservedWeight { c.unobservedWeight = unobservedWeight }
            if let confidenceWeight { c.confidenceWeight = confidenceWeight }
            if let positiveThreshold { c.positiveThreshold = positiveThreshold }
            return .ials(c)
        }
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
        case .als, .ials:
            var c = AlternatingLeastSquares.Configuration()
            applyALSOptions(to: &c)
            if let lambda { c.tau = tau ?? lambda }
            if let gamma { c.gamma = gamma }
            if let missingWeight { c.missingWeight = missingWeight }
            if let missingRating { c.missingRating = missingRating }
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
        case .mlp:
            var c = RatingMLP.Configuration()
            if let k { c.dimension = k }
            if let hidden { c.hidden = [hidden, hidden / 2, hidden / 4] }
            if let epochs { c.epochs = epochs }
            if let seed { c.seed = seed }
            if let learningRate { c.learningRate = learningRate }
            if let validationFraction { c.validationFraction = validationFraction }
            if let threads { c.threads = threads }
            return .mlp(c)
        case .ease:
            var c = EASE.Configuration()
            if let lambda { c.lambda = lambda }
            if let maxMovies { c.maxMovies = maxMovies }
            if let likedThreshold { c.likedThreshold = likedThreshold }
            if let threads { c.threads = threads }
            return .ease(c)
        }
    }

    /// The options both ALS objectives share.
    private func applyALSOptions(to c: inout AlternatingLeastSquares.Configuration) {
        if let k { c.k = k }
        if let iterations { c.iterations = iterations }
        if let seed { c.seed = seed }
        if let lambda { c.lambda = lambda }
        if let tau { c.tau = tau }
        if noGenres { c.useGenres = false }
        if let threads { c.threads = threads }
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
