import Foundation
import Logging
import Metrics
import Models
import Postgres

/// One retraining of every configured model, in order, all from one snapshot of the ratings
/// (``CycleSnapshot``): what the nightly schedule, an on-demand request and `latent publish`
/// run. A model that fails does not stop the others;
/// a model that cannot fit the catalogue (EASE above its movie limit) is skipped with a log
/// line, is not a failure, and starts no run.
package struct TrainingCycle: Sendable {
    package var models: [ModelConfiguration]
    package var settings: PublishSettings

    package init(models: [ModelConfiguration], settings: PublishSettings) {
        self.models = models
        self.settings = settings
    }

    /// The result of one model in a cycle.
    package enum Result: Sendable {
        case published(PublishOutcome)
        case failed(model: String, error: String)
        /// Not attempted: the model does not fit this catalogue (the reason says why).
        case skipped(model: String, reason: String)
    }

    /// Publishes every model over `connection`; stops early (remaining models not started) when
    /// `isCancelled` turns true.
    package func run(
        on connection: PostgresConnection, logger: Logger, progress: ProgressReporter = .silent, isCancelled: () -> Bool = { false }
    ) -> [Result] {
        let publisher = Publisher(connection: connection, logger: logger, progress: progress)
        let snapshot = CycleSnapshot()
        var results: [Result] = []
        for configuration in models {
            guard !isCancelled() else { break }
            do {
                let outcome = try publisher.publish(configuration, settings: settings, isCancelled: isCancelled, shared: snapshot)
                PublishMetrics.record(outcome)
                results.append(.published(outcome))
            } catch let error as ModelError {
                guard case .catalogueTooLarge = error else {
                    results.append(failure(configuration, error, logger: logger))
                    continue
                }
                logger.notice("skipped: the model does not fit this catalogue", metadata: [
                    "model": "\(configuration.kind.rawValue)", "reason": "\(error)",
                ])
                Counter(label: "latent_publish_runs_total", dimensions: [("model", configuration.kind.rawValue), ("status", "skipped")]).increment()
                results.append(.skipped(model: configuration.kind.rawValue, reason: "\(error)"))
            } catch {
                results.append(failure(configuration, error, logger: logger))
            }
        }
        return results
    }

    private func failure(_ configuration: ModelConfiguration, _ error: any Error, logger: Logger) -> Result {
        Counter(label: "latent_publish_runs_total", dimensions: [("model", configuration.kind.rawValue), ("status", "failed")]).increment()
        logger.error("publishing failed", metadata: ["model": "\(configuration.kind.rawValue)", "error": "\(error)"])
        return .failed(model: configuration.kind.rawValue, error: "\(error)")
    }
}

/// Prometheus figures of the publish runs (swift-metrics; no-ops until a backend is bootstrapped).
enum PublishMetrics {
    static func record(_ outcome: PublishOutcome) {
        let model = outcome.model
        Counter(label: "latent_publish_runs_total", dimensions: [("model", model), ("status", outcome.status.rawValue)]).increment()
        for (phase, seconds) in outcome.durations {
            Gauge(label: "latent_publish_phase_seconds", dimensions: [("model", model), ("phase", phase)]).record(seconds)
        }
        guard outcome.status == .current else { return }
        let m = outcome.metrics
        Gauge(label: "latent_current_run_ndcg_at_10", dimensions: [("model", model)]).record(m.ndcgAt10)
        Gauge(label: "latent_current_run_recall_at_20", dimensions: [("model", model)]).record(m.recallAt20)
        if let rmse = m.rmse { Gauge(label: "latent_current_run_rmse", dimensions: [("model", model)]).record(rmse) }
        Gauge(label: "latent_current_run_id", dimensions: [("model", model)]).record(Double(outcome.runID))
        Gauge(label: "latent_current_run_switched_timestamp_seconds", dimensions: [("model", model)]).record(Date().timeIntervalSince1970)
        Gauge(label: "latent_ranks_below_popularity", dimensions: [("model", model)]).record(m.ndcgAt10 < m.popularityNdcgAt10 ? 1 : 0)
    }
}
