import Foundation
import Logging
import Models
import Postgres

/// The bounded hyper-parameter search of a scheduled run: it starts from the tuned values of
/// the model's current run (so each night continues where the last one ended, as the data
/// grows) and searches around them on the run's training split for at most the budget.
struct NightlyTuning {
    let connection: PostgresConnection
    let logger: Logger
    let budget: TimeInterval
    var pinned: Set<TunedParameter> = []
    /// Ratings a trial fits on at most: a larger training split is cut to a seeded sample of
    /// users first, so a trial costs what one on a 2M-rating set does and the budget buys
    /// several of them even at 32M ratings.
    static let sampleRatings = 2_000_000
    /// The run parameter that records a trial's seconds.
    static let trialSecondsParameter = "tuneTrialSeconds"

    struct Result: Sendable {
        var configuration: ModelConfiguration
        /// Configurations tried; 0 when the budget buys only one trial (see ``tune``).
        var trials: Int
        var continuedFromRun: Int64?
        var sampledRatings: Int
        /// Seconds of the start's trial: measured, or carried from the current run when skipped.
        var trialSeconds: Double?
    }

    /// The winner of the search, or `nil` when there is nothing to tune (popularity, or no
    /// budget). When the current run recorded a trial that took more than half the budget,
    /// the search is skipped and the current run's values are kept: its one affordable trial
    /// would only try them again (at 32M ratings a neural trial takes 73 s of the default 120).
    func tune(
        _ configuration: ModelConfiguration, train: RatingTriples, dataset: Dataset, seed: UInt64, progress: ProgressReporter
    ) throws -> Result? {
        guard budget > 0, !configuration.tunedValues.isEmpty else { return nil }
        let previous = try previousWinners(of: configuration)
        let start = previous.map { configuration.applying($0.values.filter { !pinned.contains($0.key) }) } ?? configuration
        if let seconds = previous?.trialSeconds, 2 * seconds > budget {
            logger.info("tuning skipped: the budget buys one trial, which would only try the current values again", metadata: [
                "model": "\(configuration.kind.rawValue)", "trial_seconds": "\(MetricText.fixed(seconds))",
                "budget_seconds": "\(MetricText.fixed(budget))", "budget_for_two_trials": "\(MetricText.fixed(2 * seconds))",
            ])
            return Result(configuration: start, trials: 0, continuedFromRun: previous?.runID, sampledRatings: 0, trialSeconds: seconds)
        }
        let sample = Self.sample(train, userCount: dataset.users.count, limit: Self.sampleRatings, seed: seed)
        var search = HyperparameterSearch(trials: 8, seed: seed, budget: budget)
        search.pinned = pinned
        let trials = try search.run(from: start, ratings: sample, of: dataset, progress: progress)
        guard let best = trials.first else { return nil }
        logger.info("tuned", metadata: [
            "model": "\(configuration.kind.rawValue)", "trials": "\(trials.count)",
            "start": "\(HyperparameterSearch.describe(start))", "best": "\(HyperparameterSearch.describe(best.configuration))",
            "continued_from_run": "\(previous.map { String($0.runID) } ?? "none")", "ratings": "\(sample.count)",
        ])
        let trialSeconds = trials.first { $0.configuration == start }?.seconds
        return Result(
            configuration: best.configuration, trials: trials.count, continuedFromRun: previous?.runID, sampledRatings: sample.count,
            trialSeconds: trialSeconds)
    }

    /// The tuned values recorded in the parameters of `kind`'s current run, and the seconds of
    /// its search's first trial. Values that do not parse are reported and skipped, never guessed.
    private func previousWinners(
        of configuration: ModelConfiguration
    ) throws -> (runID: Int64, values: [TunedParameter: Double], trialSeconds: Double?)? {
        let kind = configuration.kind
        let result = try connection.query(
            """
            select r.run_id, r.parameters from latent.model_runs r join latent.current_runs c on c.run_id = r.run_id
            where c.model = $1
            """, [kind.rawValue])
        guard result.rowCount == 1, let runID = result[0, 0].flatMap({ Int64($0) }), let text = result[0, 1] else { return nil }
        let parameters: [String: String]
        do {
            parameters = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            logger.warning("the current run's parameters are unreadable; tuning starts from the defaults", metadata: [
                "run_id": "\(runID)", "error": "\(error)",
            ])
            return nil
        }
        var values: [TunedParameter: Double] = [:]
        for parameter in configuration.tunedValues.keys {
            guard let raw = parameters[parameter.rawValue] else { continue }
            guard let value = Double(raw), value.isFinite, value > 0 else {
                logger.warning("skipping an unreadable tuned value of the current run", metadata: [
                    "run_id": "\(runID)", "parameter": "\(parameter.rawValue)", "value": "\(raw)",
                ])
                continue
            }
            values[parameter] = value
        }
        let trialSeconds = parameters[Self.trialSecondsParameter].flatMap(Double.init).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        return (runID, values, trialSeconds)
    }

    /// Every rating of a seeded sample of users, chosen so the total stays near `limit`.
    static func sample(_ ratings: RatingTriples, userCount: Int, limit: Int, seed: UInt64) -> RatingTriples {
        guard ratings.count > limit, userCount > 0 else { return ratings }
        let keepShare = Double(limit) / Double(ratings.count)
        var random = SeededRandom(seed: seed)
        let kept = (0..<userCount).map { _ in Double(random.next() >> 11) / Double(1 << 53) < keepShare }
        var out = RatingTriples()
        for i in 0..<ratings.count where kept[Int(ratings.users[i])] {
            out.append(user: ratings.users[i], movie: ratings.movies[i], rating: ratings.ratings[i], timestamp: ratings.timestamps[i])
        }
        return out
    }
}
