import Foundation
import Logging
import Models
import Postgres

/// The nightly job for one model: snapshot, validate, fit, list, publish, switch, record.
/// The CLI (`latent publish`), the scheduler and the tests all call this.
///
/// Readers never see a half-published run: rows go into partitions of the run's own, and only
/// ``RunSwitch``'s one transaction makes them visible. A run that fails or is cancelled is
/// marked `failed` and its partitions are dropped.
package struct Publisher {
    let connection: PostgresConnection
    let logger: Logger
    let progress: ProgressReporter

    /// - Parameter connection: used only by this publisher while it runs (not inside a transaction).
    package init(connection: PostgresConnection, logger: Logger = Logger(label: "latent.publish"), progress: ProgressReporter = .silent) {
        self.connection = connection
        self.logger = logger
        self.progress = progress
    }

    /// Publishes one run of `configuration`'s model from the ratings in the database.
    ///
    /// - Parameters:
    ///   - isCancelled: polled between phases; when it turns true the run stops, is marked
    ///     `failed` and ``PublishError/cancelled`` is thrown.
    ///   - shared: the snapshot of the cycle this run belongs to; `nil` reads a fresh one.
    package func publish(
        _ configuration: ModelConfiguration, settings: PublishSettings, isCancelled: () -> Bool = { false },
        shared: CycleSnapshot? = nil
    ) throws -> PublishOutcome {
        try settings.validate()
        try configuration.validate()
        let lock = TrainingLock(connection: connection)
        guard try lock.tryAcquire() else { throw PublishError.trainingInProgress }
        defer {
            do { try lock.release() } catch { logger.error("could not release the training lock", metadata: ["error": "\(error)"]) }
        }
        try RunRetention(connection: connection, logger: logger).cleanUpOrphans()

        var clock = PhaseClock()
        // The snapshot phase includes the user-major index of what each user rated, which the
        // lists exclude: data preparation, not top-N work.
        let reused = shared?.isLoaded ?? false
        let (snapshot, rated) = try clock.time("snapshot") {
            try (shared ?? CycleSnapshot()).get {
                let snapshot = try loadSnapshot(from: connection)
                let dataset = snapshot.dataset
                return (snapshot, SparseRatings(dataset.ratings, userCount: dataset.users.count, movieCount: dataset.movies.count))
            }
        }
        let dataset = snapshot.dataset
        guard !dataset.ratings.isEmpty else { throw PublishError.noRatings }
        logger.info("snapshot loaded", metadata: [
            "model": "\(configuration.kind.rawValue)", "ratings": "\(dataset.ratings.count)", "users": "\(dataset.users.count)",
            "movies": "\(dataset.movies.count)", "seconds": "\(MetricText.fixed(clock.seconds["snapshot"] ?? 0))",
            "source": "\(reused ? "an earlier model of this cycle" : "database")",
        ])
        try configuration.checkCatalogue(movies: dataset.movies.count)
        let runs = ModelRunStore(connection: connection)
        let runID = try runs.start(
            model: configuration.kind.rawValue, parameters: configuration.parameters, snapshot: SnapshotSize(dataset),
            newestRatedAt: snapshot.newestRatedAt)
        do {
            return try run(
                configuration, runID: runID, dataset: dataset, rated: rated, settings: settings, clock: clock, isCancelled: isCancelled)
        } catch {
            try recordFailure(runID: runID, error: error)
            throw error
        }
    }

    private func run(
        _ configuration: ModelConfiguration, runID: Int64, dataset: Dataset, rated: SparseRatings, settings: PublishSettings,
        clock: PhaseClock, isCancelled: () -> Bool
    ) throws -> PublishOutcome {
        var clock = clock
        func checkpoint() throws { if isCancelled() { throw PublishError.cancelled } }
        // The rating MLP scores every pair for its lists: refuse before training, not after.
        if configuration.kind == .mlp { try RatingHead.checkScoringSize(users: dataset.users.count, movies: dataset.movies.count) }

        let split = try Splits.randomHoldout(dataset.ratings, testFraction: settings.validationFraction, seed: settings.seed)
        let winner = try clock.time("tune") { try tuned(configuration, runID: runID, split: split, dataset: dataset, settings: settings) }
        let configuration = winner
        try checkpoint()
        let validated = try clock.time("fit") { try configuration.fit(split.train, of: dataset, progress: progress) }
        try checkpoint()
        var metrics = try clock.time("eval") {
            try Self.validationMetrics(of: validated, configuration: configuration, split: split, dataset: dataset, settings: settings)
        }
        logger.info("validated", metadata: Self.describe(metrics, model: configuration.kind.rawValue))
        try checkpoint()

        let model = settings.refit
            ? try clock.time("refit") { try configuration.refit(dataset.ratings, of: dataset, from: validated, progress: progress) }
            : validated
        try checkpoint()
        let builder = RunContentBuilder(settings: settings, excludedMovies: try excludedMovies())
        var content = try clock.time("topn") {
            try builder.lists(model: model, dataset: dataset, rated: rated, clipsScores: configuration.predictsRatings)
        }
        try clock.time("similar") { try builder.addVectors(to: &content, dataset: dataset) }
        metrics.coverage = content.coverage
        try checkpoint()

        let writer = RunWriter(connection: connection, logger: logger)
        let rows = try clock.time("publish") { try writer.write(content, runID: runID) }
        try connection.query(
            """
            update latent.model_runs set status = 'published', metrics = $2::jsonb, dimensions = $3::int, global_mean = $4::real
            where run_id = $1::bigint
            """, [String(runID), try ModelRunStore.json(metrics), String(content.vectorLength), String(model.globalMean)])
        try checkpoint()

        let outcome = try clock.time("switch") {
            try RunSwitch(connection: connection, logger: logger).switchIn(
                runID: runID, model: configuration.kind.rawValue, metrics: metrics, guardrail: settings.guardrail,
                force: settings.force, preferredServing: settings.serveModel)
        }
        let result = finalStatus(outcome, runID: runID, model: configuration.kind.rawValue)
        try ModelRunStore(connection: connection).finish(
            runID, status: result.status, metrics: metrics, durations: clock.seconds)
        try RunRetention(connection: connection, logger: logger).keepNewest(settings.keepRuns)
        return PublishOutcome(
            runID: runID, model: configuration.kind.rawValue, status: result.status, reason: result.reason, metrics: metrics,
            durations: clock.seconds, rows: rows, serving: result.serving)
    }

    /// The configuration after the nightly search (recorded as the run's parameters), or the
    /// given one when there is nothing to tune.
    private func tuned(
        _ configuration: ModelConfiguration, runID: Int64, split: RatingSplit, dataset: Dataset, settings: PublishSettings
    ) throws -> ModelConfiguration {
        let tuning = NightlyTuning(connection: connection, logger: logger, budget: settings.tuneBudget, pinned: settings.pinnedParameters)
        guard let result = try tuning.tune(configuration, train: split.train, dataset: dataset, seed: settings.seed, progress: progress) else {
            return configuration
        }
        var parameters = result.configuration.parameters
        parameters["tuneTrials"] = String(result.trials)
        if result.sampledRatings > 0 { parameters["tuneRatings"] = String(result.sampledRatings) }
        if let seconds = result.trialSeconds { parameters[NightlyTuning.trialSecondsParameter] = MetricText.fixed(seconds) }
        if let run = result.continuedFromRun { parameters["tuneContinuedFromRun"] = String(run) }
        try connection.query(
            "update latent.model_runs set parameters = $2::jsonb where run_id = $1::bigint",
            [String(runID), try ModelRunStore.json(parameters)])
        return result.configuration
    }

    private func finalStatus(
        _ outcome: RunSwitch.Outcome, runID: Int64, model: String
    ) -> (status: ModelRunStatus, reason: String?, serving: ServingChoice?) {
        switch outcome {
        case let .current(previous, serving):
            logger.info("run is current", metadata: [
                "model": "\(model)", "run_id": "\(runID)", "previous": "\(previous.map(String.init) ?? "none")",
                "lists": "\(serving?.lists ?? "none")", "vectors": "\(serving?.vectors ?? "none")",
            ])
            for below in serving?.belowPopularity ?? [] {
                logger.warning("model ranks below popularity on its validation split and does not serve lists", metadata: ["model": "\(below)"])
            }
            return (.current, nil, serving)
        case let .rejected(reason):
            logger.warning("run rejected by the guardrail", metadata: ["model": "\(model)", "run_id": "\(runID)", "reason": "\(reason)"])
            return (.rejected, reason, nil)
        }
    }

    /// RMSE and MAE (rating models), NDCG@10, Recall@20 and popularity's NDCG@10 on the split,
    /// ranked for one seeded sample of users (the same for every model and run) in one pass.
    static func validationMetrics(
        of model: FactorModel, configuration: ModelConfiguration, split: RatingSplit, dataset: Dataset, settings: PublishSettings
    ) throws -> RunMetrics {
        let errors = configuration.predictsRatings ? Evaluation.errors(of: model, on: split.test, train: split.train) : nil
        let sample = RankingSample(maxUsers: settings.validationUsers, seed: settings.seed)
        let ranked = try Evaluation.ranking(
            of: model, train: split.train, test: split.test, cutoffs: [10, 20], sample: sample, threads: settings.threads)
        let popular = try Evaluation.popularityRanking(
            userCount: dataset.users.count, movieCount: dataset.movies.count, train: split.train, test: split.test,
            cutoffs: [10], sample: sample, threads: settings.threads)
        return RunMetrics(
            rmse: errors?.rmse, mae: errors?.mae, ndcgAt10: ranked[0].ndcg, recallAt20: ranked[1].recall,
            popularityNdcgAt10: popular[0].ndcg)
    }

    static func describe(_ metrics: RunMetrics, model: String) -> Logger.Metadata {
        var out: Logger.Metadata = [
            "model": "\(model)", "ndcg@10": "\(MetricText.fixed(metrics.ndcgAt10))",
            "recall@20": "\(MetricText.fixed(metrics.recallAt20))",
            "popularity_ndcg@10": "\(MetricText.fixed(metrics.popularityNdcgAt10))",
        ]
        if let rmse = metrics.rmse { out["rmse"] = "\(MetricText.fixed(rmse))" }
        return out
    }

    /// `latent.excluded_movies`: movies no list may show.
    private func excludedMovies() throws -> Set<Int64> {
        let result = try connection.execute("select movie_id from latent.excluded_movies")
        return Set((0..<result.rowCount).compactMap { result[$0, 0].flatMap { Int64($0) } })
    }

    /// Marks the run failed and drops whatever it had written.
    private func recordFailure(runID: Int64, error: any Error) throws {
        logger.error("publish failed", metadata: ["run_id": "\(runID)", "error": "\(error)"])
        guard connection.isConnected else { return }  // the next run's orphan clean-up marks it
        try ModelRunStore(connection: connection).fail(runID, error: error)
        try RunWriter(connection: connection, logger: logger).drop(runID: runID)
    }
}

/// Seconds spent per named phase (a phase timed twice adds up).
struct PhaseClock: Sendable {
    private(set) var seconds: [String: Double] = [:]

    mutating func time<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
        let started = Date()
        defer { seconds[phase, default: 0] += Date().timeIntervalSince(started) }
        return try body()
    }
}
