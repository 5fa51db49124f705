import Foundation
import Logging
import Models

/// One `latent train` run on a loaded dataset: an optional seeded holdout, an optional
/// hyper-parameter search, the fit, the evaluation, the model file, and (with a run store) the
/// run's `latent.model_runs` row, marked failed when any phase throws.
package struct TrainingJob {
    package var configuration: ModelConfiguration
    /// Fraction of the ratings held out (random, seeded) for test metrics; 0: none.
    package var holdout: Double = 0
    /// Seed of the holdout split.
    package var holdoutSeed: UInt64 = 1
    /// Random-search trials and seed, when tuning.
    package var tuning: (trials: Int, seed: UInt64)?

    package init(configuration: ModelConfiguration) {
        self.configuration = configuration
    }

    /// What a finished job reports: one line summing the run up, and every tuning trial.
    package struct Outcome {
        package var model: FactorModel
        /// `model=... k=... fit_seconds=... train_rmse=...`, then test metrics and the run id.
        package var summary: String
        package var trials: [HyperparameterSearch.Trial]
    }

    /// Runs every phase and writes the model to `modelPath`, with `sourceLabel` (where the data
    /// came from, never a database URL) among its parameters; `loadSeconds` is recorded with
    /// the phase durations.
    package func run(
        on dataset: Dataset, sourceLabel: String, loadSeconds: Double, savingTo modelPath: String,
        runs: ModelRunStore?, progress: ProgressReporter, logger: Logger
    ) throws -> Outcome {
        let runID = try runs?.start(
            model: configuration.kind.rawValue, parameters: configuration.parameters, snapshot: SnapshotSize(dataset))
        do {
            var record = RunRecord(durations: ["load": loadSeconds])
            var outcome = try train(dataset, record: &record, progress: progress)
            try record.time("save") {
                var model = outcome.model
                model.parameters["source"] = sourceLabel
                try model.save(to: modelPath)
            }
            if let runs, let runID {
                try runs.finish(runID, status: .succeeded, metrics: record.metrics, durations: record.durations)
                outcome.summary += " run_id=\(runID)"
            }
            return outcome
        } catch {
            if let runs, let runID {
                do { try runs.fail(runID, error: error) } catch {
                    logger.error("could not record the failed run", metadata: ["run_id": "\(runID)", "error": "\(error)"])
                }
            }
            throw error
        }
    }

    /// Metrics and phase durations, as the run's row stores them.
    private struct RunRecord {
        var metrics: [String: Double] = [:]
        var durations: [String: Double]

        mutating func time<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
            let started = Date()
            let result = try body()
            durations[phase] = Date().timeIntervalSince(started)
            return result
        }
    }

    private func train(_ dataset: Dataset, record: inout RunRecord, progress: ProgressReporter) throws -> Outcome {
        var train = dataset.ratings
        var test: RatingTriples?
        if holdout > 0 {
            let split = try Splits.randomHoldout(dataset.ratings, testFraction: holdout, seed: holdoutSeed)
            train = split.train
            test = split.test
        }
        var configuration = self.configuration
        var trials: [HyperparameterSearch.Trial] = []
        if let tuning {
            trials = try record.time("tune") { try tune(configuration, train, of: dataset, tuning, progress: progress) }
            if let best = trials.first {
                configuration = best.configuration
                if let ndcg = best.ndcg {
                    record.metrics["tune_validation_ndcg_at_10"] = ndcg
                } else {
                    record.metrics["tune_validation_rmse"] = best.validation.rmse
                }
            }
        }
        let trained = try record.time("fit") { try configuration.fit(train, of: dataset, progress: progress) }
        progress.finish("training done")
        var summary = "model=\(configuration.kind.rawValue) k=\(trained.k) ratings=\(train.count) fit_seconds=\(MetricText.fixed(record.durations["fit"] ?? 0))"
        // Popularity and neural scores rank; as ratings their error would mean nothing.
        let ratesMovies = configuration.predictsRatings
        if ratesMovies {
            let trainErrors = Evaluation.errors(of: trained, on: train)
            record.metrics["train_rmse"] = trainErrors.rmse
            summary += " train_rmse=\(MetricText.fixed(trainErrors.rmse))"
        }
        if let test {
            summary += try evaluate(trained, train: train, test: test, of: dataset, ratesMovies: ratesMovies, metrics: &record.metrics)
        }
        return Outcome(model: trained, summary: summary, trials: trials)
    }

    private func tune(
        _ configuration: ModelConfiguration, _ train: RatingTriples, of dataset: Dataset,
        _ tuning: (trials: Int, seed: UInt64), progress: ProgressReporter
    ) throws -> [HyperparameterSearch.Trial] {
        let trials = try HyperparameterSearch(trials: tuning.trials, seed: tuning.seed)
            .run(from: configuration, ratings: train, of: dataset, progress: progress)
        progress.finish("tuning done")
        return trials
    }

    /// Held-out rating errors and top-10 ranking metrics (with popularity's for comparison);
    /// returns their part of the summary line.
    private func evaluate(
        _ model: FactorModel, train: RatingTriples, test: RatingTriples, of dataset: Dataset, ratesMovies: Bool,
        metrics: inout [String: Double]
    ) throws -> String {
        var summary = ""
        if ratesMovies {
            let errors = Evaluation.errors(of: model, on: test, train: train)
            metrics["test_rmse"] = errors.rmse
            metrics["test_mae"] = errors.mae
            summary = " test_rmse=\(MetricText.fixed(errors.rmse)) test_mae=\(MetricText.fixed(errors.mae)) test_n=\(errors.count)"
        }
        let ranking = try Evaluation.ranking(of: model, train: train, test: test)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: train, test: test)
        metrics["test_ndcg_at_10"] = ranking.ndcg
        metrics["test_precision_at_10"] = ranking.precision
        metrics["test_recall_at_10"] = ranking.recall
        metrics["test_map_at_10"] = ranking.map
        metrics["test_coverage"] = ranking.coverage
        metrics["popularity_ndcg_at_10"] = popular.ndcg
        return summary + " ndcg@10=\(MetricText.fixed(ranking.ndcg)) popularity_ndcg@10=\(MetricText.fixed(popular.ndcg))"
    }
}
