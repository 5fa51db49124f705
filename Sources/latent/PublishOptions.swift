import ArgumentParser
import Foundation
import Models
import Pipeline

extension ModelKind: ExpressibleByArgument {}

/// What to train and how to publish it: shared by `latent publish` and `latent serve`.
struct PublishOptions: ParsableArguments {

    @Option(
        name: .customLong("model"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Models to publish, in order: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: $LATENT_TRAIN_MODELS, else every one but mlp).",
            valueName: "model"))
    var models: [ModelKind] = []

    @Option(help: "Recommendations per user (N).")
    var count = 100

    @Option(name: .customLong("similar-count"), help: "Similar movies per movie and measure (K).")
    var similarCount = 50

    @Option(help: "Runs kept per model for rollback, the current one included.")
    var keep = 2

    @Flag(help: "Make the new runs current even when the guardrail would reject them.")
    var force = false

    @Option(name: .customLong("max-rmse-increase"), help: "Guardrail: largest relative validation-RMSE increase over the current run.")
    var maxRMSEIncrease = 0.03

    @Option(name: .customLong("max-ndcg-drop"), help: "Guardrail: largest relative validation-NDCG@10 drop below the current run.")
    var maxNDCGDrop = 0.10

    @Option(name: .customLong("validation-fraction"), help: "Share of the ratings held out to validate each run.")
    var validationFraction = 0.1

    @Option(help: "Seed of the validation split and of the models: same data and seed, same run.")
    var seed: UInt64 = 1

    @Option(name: .customLong("serve-model"), help: "The model whose lists the views show, when it ranks at least as well as popularity (default: $LATENT_SERVE_MODEL, else the best validation NDCG@10).")
    var serveModel: String?

    @Option(name: .customLong("tune-budget"), help: ArgumentHelp("Seconds of hyper-parameter search per model before each run, starting from the current run's tuned values; 0 turns it off (default: $LATENT_TUNE_BUDGET, else 120).", valueName: "seconds"))
    var tuneBudget: Double?

    @Option(help: "Latent dimensions of mf, als and ials, and the embedding width of neural and mlp (default: each model's own).")
    var k: Int?

    @Option(help: "Worker threads for training and scoring (default: all cores for publish; all but one for serve, so ingest keeps a core).")
    var threads: Int?


    func validate() throws {
        if let k, k <= 0 { throw ValidationError("--k must be a positive number of latent dimensions, got \(k)") }
        _ = try settings()
        _ = try chosenModels()
    }

    func settings(defaultThreads: Int? = nil) throws -> PublishSettings {
        var s = PublishSettings()
        s.listLength = count
        s.similarCount = similarCount
        s.keepRuns = keep
        s.force = force
        s.guardrail = Guardrail(maxRMSEIncrease: maxRMSEIncrease, maxNDCGDrop: maxNDCGDrop)
        s.validationFraction = validationFraction
        s.seed = seed
        s.serveModel = serveModel ?? environmentValue("LATENT_SERVE_MODEL")
        if let threads = threads ?? defaultThreads { s.threads = threads }
        if let budget = try tuneBudget ?? Self.environmentTuneBudget() { s.tuneBudget = budget }
        if k != nil { s.pinnedParameters = [.k, .dimension] }  // an explicit --k is kept by the search
        if let model = s.serveModel, ModelKind(rawValue: model) == nil {
            throw ValidationError("LATENT_SERVE_MODEL / --serve-model: unknown model '\(model)' (one of \(Self.kindList))")
        }
        do { try s.validate() } catch { throw ValidationError("\(error)") }
        return s
    }

    /// `LATENT_TUNE_BUDGET` in seconds, when set.
    private static func environmentTuneBudget() throws -> Double? {
        guard let text = environmentValue("LATENT_TUNE_BUDGET") else { return nil }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw ValidationError("LATENT_TUNE_BUDGET: expected zero or a positive number of seconds, got '\(text)'")
        }
        return seconds
    }

    /// `--model`, else `LATENT_TRAIN_MODELS` (comma-separated), else every nightly kind.
    func chosenModels() throws -> [ModelKind] {
        if !models.isEmpty { return models }
        guard let text = environmentValue("LATENT_TRAIN_MODELS") else { return ModelKind.nightlyDefaults }
        return try text.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let kind = ModelKind(rawValue: trimmed) else {
                throw ValidationError("LATENT_TRAIN_MODELS: unknown model '\(trimmed)' (one of \(Self.kindList))")
            }
            return kind
        }
    }

    static let kindList = ModelKind.allCases.map(\.rawValue).joined(separator: ", ")

    /// The model's defaults with this command's seed and threads.
    func configuration(of kind: ModelKind, defaultThreads: Int? = nil) -> ModelConfiguration {
        kind.defaultConfiguration.changing(SettingsChange(seed: seed, dimensions: k, threads: threads ?? defaultThreads))
    }


    /// The cycle these options describe: every chosen model with its defaults.
    /// - Parameter defaultThreads: threads when `--threads` is not given (serve leaves a core to ingest).
    func cycle(defaultThreads: Int? = nil) throws -> TrainingCycle {
        TrainingCycle(
            models: try chosenModels().map { configuration(of: $0, defaultThreads: defaultThreads) },
            settings: try settings(defaultThreads: defaultThreads))
    }
}
