/// The settings every trained model's configuration has under its own names, so the CLI and
/// the nightly search change them without a case per model.
package protocol TrainerSettings {
    var seed: UInt64 { get set }
    var threads: Int { get set }
    /// Latent dimensions: `k`, or the width of the embeddings.
    var dimensions: Int { get set }
    /// Iterations or epochs (at most, where early stopping may end sooner).
    var effort: Int { get set }
    /// The effort of one nightly search trial: candidates are compared at equal, reduced
    /// effort (ALS is close to its final ranking of configurations after 5 iterations), so a
    /// budget buys several trials on large data.
    static var trialEffort: Int { get }
}

/// A change to the common settings; `nil` keeps a value.
package struct SettingsChange: Sendable {
    package var seed: UInt64?
    package var dimensions: Int?
    package var threads: Int?
    /// Iterations or epochs (``TrainerSettings/effort``).
    package var effort: Int?
    /// Cap the effort at the configuration's ``TrainerSettings/trialEffort``.
    package var capsEffortForTrial = false

    package init(
        seed: UInt64? = nil, dimensions: Int? = nil, threads: Int? = nil, effort: Int? = nil, capsEffortForTrial: Bool = false
    ) {
        self.seed = seed
        self.dimensions = dimensions
        self.threads = threads
        self.effort = effort
        self.capsEffortForTrial = capsEffortForTrial
    }

    func applied<C: TrainerSettings>(to configuration: C) -> C {
        var c = configuration
        if let seed { c.seed = seed }
        if let dimensions { c.dimensions = dimensions }
        if let threads { c.threads = threads }
        if let effort { c.effort = effort }
        if capsEffortForTrial { c.effort = min(c.effort, C.trialEffort) }
        return c
    }
}

extension ModelConfiguration {
    /// This configuration with `change` applied (popularity and the baseline have none of
    /// these settings and stay as they are; EASE takes only the threads).
    package func changing(_ change: SettingsChange) -> ModelConfiguration {
        switch self {
        case .popularity, .baseline: return self
        case .ease(var c):
            // EASE has no seed, dimensions or iterations: a closed form over the catalogue.
            if let threads = change.threads { c.threads = threads }
            return .ease(c)
        case .blend(var c):
            // The settings are ials'; EASE takes only the threads.
            c.ials = change.applied(to: c.ials)
            if let threads = change.threads { c.ease.threads = threads }
            return .blend(c)
        case .mf(let c): return .mf(change.applied(to: c))
        case .als(let c): return .als(change.applied(to: c))
        case .ials(let c): return .ials(change.applied(to: c))
        case .neural(let c): return .neural(change.applied(to: c))
        case .mlp(let c): return .mlp(change.applied(to: c))
        }
    }

    /// This configuration with its effort capped for a search trial.
    var trialEffort: ModelConfiguration { changing(SettingsChange(capsEffortForTrial: true)) }
}
