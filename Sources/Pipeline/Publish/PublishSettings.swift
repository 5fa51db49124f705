import Foundation
import Models

/// How a publish run evaluates, lists and keeps its results.
package struct PublishSettings: Sendable, Equatable {
    /// N: recommendations per user.
    package var listLength = 100
    /// K: similar movies per movie and measure.
    package var similarCount = 50
    /// Share of the ratings held out (random, seeded) to measure the run before it may serve.
    package var validationFraction = 0.1
    /// Seed of the validation split.
    package var seed: UInt64 = 1
    /// Train the published model on every rating after validating on the split (the lists then
    /// know the newest ratings); false publishes the model validated on 90% of them.
    package var refit = true
    /// Seconds of hyper-parameter search per model before the run's fit (`LATENT_TUNE_BUDGET`),
    /// starting from the tuned values of the model's current run; 0 turns it off.
    package var tuneBudget: TimeInterval = 120
    /// Tuned parameters the search leaves as configured (e.g. `k` when the operator chose it).
    package var pinnedParameters: Set<TunedParameter> = []
    /// Users whose validation lists are scored (a fixed seeded sample when more have held-out
    /// relevant ratings): ranking every movie for 200k users costs as much as the top-N phase,
    /// and a 20k-user sample measures NDCG@10 within about 0.002 of the whole.
    package var validationUsers = 20_000
    /// Runs kept per model (the current one included) for rollback; older ones are dropped.
    package var keepRuns = 2
    package var guardrail = Guardrail()
    /// Make the run current whatever the guardrail says.
    package var force = false
    /// `LATENT_SERVE_MODEL`: the model whose lists the views show, when it ranks at least as
    /// well as popularity.
    package var serveModel: String?
    /// Worker threads for scoring (the trainers take theirs from the model configuration).
    package var threads = ProcessInfo.processInfo.activeProcessorCount

    package init() {}

    /// Checks every field, naming the first bad one.
    package func validate() throws {
        func bad(_ name: String, _ value: Any, _ requirement: String) -> ModelError {
            .invalidParameter(name: name, value: "\(value)", requirement: requirement)
        }
        guard listLength >= 1 else { throw bad("count", listLength, "at least 1") }
        guard similarCount >= 1 else { throw bad("similar-count", similarCount, "at least 1") }
        guard validationFraction > 0, validationFraction < 0.5 else { throw bad("validation-fraction", validationFraction, "in (0, 0.5)") }
        guard tuneBudget >= 0, tuneBudget.isFinite else { throw bad("tune-budget", tuneBudget, "zero or a positive number of seconds") }
        guard validationUsers >= 1 else { throw bad("validation-users", validationUsers, "at least 1") }
        guard keepRuns >= 1 else { throw bad("keep", keepRuns, "at least 1") }
        guard guardrail.maxRMSEIncrease >= 0 else { throw bad("max-rmse-increase", guardrail.maxRMSEIncrease, "zero or positive") }
        guard guardrail.maxNDCGDrop >= 0, guardrail.maxNDCGDrop <= 1 else { throw bad("max-ndcg-drop", guardrail.maxNDCGDrop, "in [0, 1]") }
        guard threads >= 1 else { throw bad("threads", threads, "at least 1") }
    }
}

/// What one publish run did.
package struct PublishOutcome: Sendable {
    package var runID: Int64
    package var model: String
    package var status: ModelRunStatus
    /// Why the run was rejected.
    package var reason: String?
    package var metrics: RunMetrics
    /// Seconds per phase: snapshot, fit, eval, topn, publish (and switch).
    package var durations: [String: Double]
    package var rows: Int
    package var serving: ServingChoice?
}
