import ArgumentParser
import Foundation
import Logging
import Models
import Pipeline

extension ModelKind: ExpressibleByArgument {}

/// `latent publish`: trains each model from the database snapshot, validates it, publishes its
/// lists and vectors, and switches it in (what the nightly schedule runs).
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Train from the ratings in PostgreSQL, validate, publish recommendations and switch them in.",
        discussion: """
            For each model: snapshot the ratings, hold out a validation split (RMSE, NDCG@10, \
            Recall@20, and popularity's NDCG@10 on the same split), train on every rating, \
            compute every user's top-N (rated movies and latent.excluded_movies left out), similar \
            movies by cosine and dot, genre vectors and embeddings, load them into partitions of \
            the run's own, and make the run current in one short transaction, unless it is worse \
            than the current run by more than the guardrail allows. Readers use the views \
            latent.recommendations, latent.similar, latent.genre_features, latent.movie_embeddings \
            and latent.user_embeddings; the lists come from the model with the best validation \
            NDCG@10 that ranks at least as well as popularity (or LATENT_SERVE_MODEL).
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("model"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Models to publish, in order: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: $LATENT_TRAIN_MODELS, else every one).",
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

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try database.requireURL()
        _ = try settings()
        _ = try chosenModels()
    }

    func settings() throws -> PublishSettings {
        var s = PublishSettings()
        s.listLength = count
        s.similarCount = similarCount
        s.keepRuns = keep
        s.force = force
        s.guardrail = Guardrail(maxRMSEIncrease: maxRMSEIncrease, maxNDCGDrop: maxNDCGDrop)
        s.validationFraction = validationFraction
        s.seed = seed
        s.serveModel = serveModel ?? ProcessInfo.processInfo.environment["LATENT_SERVE_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        if let threads { s.threads = threads }
        if let model = s.serveModel, ModelKind(rawValue: model) == nil {
            throw ValidationError("LATENT_SERVE_MODEL / --serve-model: unknown model '\(model)' (one of \(Self.kindList))")
        }
        do { try s.validate() } catch { throw ValidationError("\(error)") }
        return s
    }

    /// `--model`, else `LATENT_TRAIN_MODELS` (comma-separated), else every kind.
    func chosenModels() throws -> [ModelKind] {
        if !models.isEmpty { return models }
        guard let text = ProcessInfo.processInfo.environment["LATENT_TRAIN_MODELS"], !text.isEmpty else { return ModelKind.allCases }
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
    func configuration(of kind: ModelKind) -> ModelConfiguration {
        switch kind.defaultConfiguration {
        case .popularity: return .popularity
        case .baseline(let c): return .baseline(c)
        case .mf(var c):
            c.seed = seed
            if let threads { c.threads = threads }
            return .mf(c)
        case .als(var c):
            c.seed = seed
            if let threads { c.threads = threads }
            return .als(c)
        }
    }

    func run() throws {
        let connection = try database.connect()
        defer { connection.close() }
        let publisher = Publisher(connection: connection, progress: ProgressReporter(label: "latent.publish"))
        let settings = try settings()
        var failures: [String] = []
        for kind in try chosenModels() {
            do {
                let outcome = try publisher.publish(configuration(of: kind), settings: settings)
                print(Self.summary(outcome))
            } catch {
                failures.append("\(kind.rawValue): \(error)")
            }
        }
        guard failures.isEmpty else { throw CommandFailure("publishing failed for " + failures.joined(separator: "; ")) }
    }

    static func summary(_ outcome: PublishOutcome) -> String {
        let m = outcome.metrics
        var line = "model=\(outcome.model) run_id=\(outcome.runID) status=\(outcome.status.rawValue) rows=\(outcome.rows)"
        if let rmse = m.rmse { line += " rmse=\(MetricText.fixed(rmse))" }
        line += " ndcg@10=\(MetricText.fixed(m.ndcgAt10)) recall@20=\(MetricText.fixed(m.recallAt20))"
        line += " popularity_ndcg@10=\(MetricText.fixed(m.popularityNdcgAt10)) coverage=\(MetricText.fixed(m.coverage ?? 0))"
        let total = outcome.durations.values.reduce(0, +)
        line += " seconds=\(MetricText.fixed(total))"
        if let serving = outcome.serving { line += " serving_lists=\(serving.lists) serving_vectors=\(serving.vectors ?? "none")" }
        if let reason = outcome.reason { line += " reason=\"\(reason)\"" }
        return line
    }
}
