import ArgumentParser
import Foundation
import Logging
import Models
import Pipeline

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
    @OptionGroup var options: PublishOptions

    func validate() throws { try database.requireURL() }

    func run() throws {
        let connection = try database.connect()
        defer { connection.close() }
        let results = try options.cycle().run(
            on: connection, logger: Logger(label: "latent.publish"), progress: ProgressReporter(label: "latent.publish"))
        var failures: [String] = []
        for result in results {
            switch result {
            case .published(let outcome): print(Self.summary(outcome))
            case let .failed(model, error): failures.append("\(model): \(error)")
            case let .skipped(model, reason): print("model=\(model) status=skipped reason=\"\(reason)\"")
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
