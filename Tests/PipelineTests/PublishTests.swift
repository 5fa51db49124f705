import Foundation
import Models
@testable import Pipeline
import Postgres
import XCTest

/// Publishing against a real PostgreSQL: what readers see through the views.
final class PublishTests: XCTestCase {
    /// 120 users x 150 movies, about 30% rated, ratings from a hidden low-rank structure so
    /// the models have something to learn; deterministic.
    static func seed(_ connection: PostgresConnection) throws {
        try connection.execute("""
            insert into latent.movies (movie_id, title, genres)
            select m, 'Movie ' || m, case when m % 3 = 0 then '{Drama}'::text[] when m % 3 = 1 then '{Comedy,Romance}'::text[] else '{Action}'::text[] end
            from generate_series(1, 150) m;
            insert into latent.ratings (user_id, movie_id, rating, rated_at)
            select u, m, greatest(0.5, least(5.0, round((3 + 1.5 * sin(u * 0.7) * cos(m * 0.9) + 0.8 * cos(u * 0.3 + m * 0.2))::numeric * 2) / 2)),
                   timestamptz '2024-01-01' + (u * 1000 + m) * interval '1 second'
            from generate_series(1, 120) u, generate_series(1, 150) m
            where (u * 37 + m * 11) % 10 < 3;
            """)
    }

    static func als(k: Int = 8, lambda: Float? = nil) -> ModelConfiguration {
        var c = AlternatingLeastSquares.Configuration()
        c.k = k
        c.iterations = 6
        c.threads = 2
        if let lambda {
            c.lambda = lambda
            c.tau = lambda
        }
        return .als(c)
    }

    static func settings(count: Int = 20) -> PublishSettings {
        var s = PublishSettings()
        s.listLength = count
        s.similarCount = 10
        s.threads = 2
        s.tuneBudget = 0  // the tests publish exactly the configurations they choose
        return s
    }

    func testPublishedListsEqualABruteForceTopNFromThePublishedVectors() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        try connection.execute("insert into latent.excluded_movies (movie_id, reason) values (7, 'withdrawn')")
        let outcome = try Publisher(connection: connection).publish(Self.als(), settings: Self.settings())
        XCTAssertEqual(outcome.status, .current)

        let vectors = try PublishedVectors(connection)
        let rated = try ratedMovies(connection)
        for user in [1, 17, 60, 119] as [Int64] {
            let published = try connection.query(
                "select movie_id, score from latent.recommendations where user_id = $1::bigint order by rank", [String(user)])
            XCTAssertEqual(published.rowCount, 20, "user \(user) has a full list")
            var brute: [(movie: Int64, score: Float)] = []
            for (movie, _) in vectors.movies where !(rated[user]?.contains(movie) ?? false) && movie != 7 {
                brute.append((movie, vectors.score(user: user, movie: movie)))
            }
            brute.sort { $0.score > $1.score }
            let boundary = brute[20].score
            var previous = Float.infinity
            for row in 0..<published.rowCount {
                let movie = try XCTUnwrap(published[row, 0].flatMap { Int64($0) })
                XCTAssertFalse(rated[user]?.contains(movie) ?? false, "user \(user) rated movie \(movie)")
                XCTAssertNotEqual(movie, 7, "an excluded movie was listed")
                let score = vectors.score(user: user, movie: movie)
                XCTAssertLessThanOrEqual(score, previous + 1e-4, "user \(user) rank \(row + 1) is out of order")
                XCTAssertGreaterThanOrEqual(score, boundary - 1e-4, "user \(user) lists movie \(movie) below the brute-force top 20")
                previous = score
                let clipped = try XCTUnwrap(published[row, 1].flatMap { Float($0) })
                XCTAssertEqual(clipped, min(max(score + vectors.globalMean, 0.5), 5), accuracy: 1e-3, "the score is the clipped prediction")
            }
        }
    }

    /// The rating MLP publishes lists scored through its network: its model file is stored
    /// with the run, and each published list is what that model recommends (the head, not a
    /// dot product of the published vectors), with clipped predictions as scores.
    /// Movies that no rating taught the model anything about (ials learns from ratings >= 3.5
    /// only) have their genre prior as vector, so they are never listed as similar movies;
    /// they still get lists of their own.
    func testMoviesWithoutSignalAreNeverListedAsSimilar() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        try connection.execute("""
            insert into latent.movies (movie_id, title, genres) values (151, 'Panned', '{Drama}'), (152, 'Unrated', '{Drama}');
            insert into latent.ratings (user_id, movie_id, rating, rated_at) values (3, 151, 1, now()), (4, 151, 2.5, now());
            """)
        var c = AlternatingLeastSquares.Configuration.rankingDefaults
        (c.k, c.iterations, c.threads) = (8, 4, 2)
        let outcome = try Publisher(connection: connection).publish(.ials(c), settings: Self.settings())
        XCTAssertEqual(outcome.status, .current)
        let model = try FactorModel.published(runID: outcome.runID, from: connection)
        let dataset = try loadDataset(from: connection)
        let silent = try RunContentBuilder.moviesWithoutSignal(model, dataset: dataset)
        let positives = try connection.execute("select count(distinct movie_id) from latent.ratings where rating >= 3.5")
        XCTAssertEqual(silent.count, 150 + 2 - (Int(positives[0, 0] ?? "") ?? -1), "every movie without a rating >= 3.5")
        XCTAssertTrue(silent.isSuperset(of: [151, 152]))
        let listed = try connection.execute(
            "select count(*) from latent.similar where similar_movie_id = any('{\(silent.map(String.init).joined(separator: ","))}'::bigint[])")
        XCTAssertEqual(listed[0, 0], "0", "a movie without signal is listed as similar")
        let own = try connection.execute("select count(*) from latent.similar where movie_id = 151 and measure = 'cosine'")
        XCTAssertEqual(own[0, 0], "10", "a movie without signal still has its own list")
    }

    func testTheRatingMLPPublishesListsScoredThroughItsNetwork() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        var c = RatingMLP.Configuration()
        c.dimension = 8
        c.hidden = [16, 8, 4]
        c.epochs = 10
        c.threads = 2
        let outcome = try Publisher(connection: connection).publish(.mlp(c), settings: Self.settings())
        XCTAssertNotEqual(outcome.status, .failed)
        let model = try FactorModel.published(runID: outcome.runID, from: connection)
        XCTAssertEqual(model.kind, .mlp)
        XCTAssertNotNil(model.ratingHead, "the run's model file keeps the rating head")
        let rated = try ratedMovies(connection)
        for user in [1, 60, 119] as [Int64] {
            let published = try connection.query(
                "select movie_id, score from \(RunTable.userRecommendations.partition(outcome.runID)) where user_id = $1::bigint order by rank",
                [String(user)])
            let expected = try model.recommend(userID: user, count: 20, excluding: rated[user] ?? [])
            XCTAssertEqual(published.rowCount, 20)
            for row in 0..<published.rowCount {
                XCTAssertEqual(published[row, 0].flatMap { Int64($0) }, expected[row].movieID, "user \(user) rank \(row + 1)")
                let score = try XCTUnwrap(published[row, 1].flatMap { Float($0) })
                XCTAssertEqual(score, min(max(expected[row].score, 0.5), 5), accuracy: 1e-3)
            }
        }
    }

    func testAListLongerThanTheUnratedCatalogueHoldsEveryUnratedMovie() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        try connection.execute("insert into latent.excluded_movies (movie_id, reason) values (7, 'withdrawn')")
        _ = try Publisher(connection: connection).publish(.popularity, settings: Self.settings(count: 500))
        let mismatches = try connection.execute("""
            select u.user_id from (select distinct user_id from latent.ratings) u
            where (select count(*) from latent.recommendations r where r.user_id = u.user_id)
               <> (select count(*) from latent.movies m where m.movie_id <> 7
                   and not exists (select 1 from latent.ratings x where x.user_id = u.user_id and x.movie_id = m.movie_id))
            """)
        XCTAssertEqual(mismatches.rowCount, 0, "every user's list is exactly their unrated, unexcluded movies")
        let users = try connection.execute("select count(distinct user_id) from latent.recommendations")
        XCTAssertEqual(users[0, 0], "120")
    }

    func testGuardrailRejectsAWorseRunForceOverridesAndPromoteRollsBack() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        let publisher = Publisher(connection: connection)
        let good = try publisher.publish(Self.als(), settings: Self.settings())
        XCTAssertEqual(good.status, .current)

        // Heavy regularisation flattens every vector: far worse RMSE and lists.
        let worse = try publisher.publish(Self.als(lambda: 500), settings: Self.settings())
        XCTAssertEqual(worse.status, .rejected)
        XCTAssertNotNil(worse.reason)
        XCTAssertEqual(try currentRun(connection, model: "als"), good.runID)
        let recorded = try connection.query("select status, reason from latent.model_runs where run_id = $1::bigint", [String(worse.runID)])
        XCTAssertEqual(recorded[0, 0], "rejected")
        XCTAssertEqual(recorded[0, 1], worse.reason)

        var forced = Self.settings()
        forced.force = true
        let pushed = try publisher.publish(Self.als(lambda: 500), settings: forced)
        XCTAssertEqual(pushed.status, .current)
        XCTAssertEqual(try currentRun(connection, model: "als"), pushed.runID)

        _ = try RunCatalog(connection: connection).promote(good.runID, preferredServing: nil)
        XCTAssertEqual(try currentRun(connection, model: "als"), good.runID)
        let statuses = try connection.query(
            "select status from latent.model_runs where run_id = any($1::bigint[]) order by run_id",
            ["{\(good.runID),\(pushed.runID)}"])
        XCTAssertEqual([statuses[0, 0], statuses[1, 0]], ["current", "retired"])
        XCTAssertThrowsError(try RunCatalog(connection: connection).drop(good.runID)) { error in
            XCTAssertEqual(error as? PublishError, .dropsCurrentRun(good.runID))
        }
        XCTAssertThrowsError(try RunCatalog(connection: connection).promote(999_999, preferredServing: nil)) { error in
            XCTAssertEqual(error as? PublishError, .unknownRun(999_999))
        }
    }

    func testOnlyTheNewestRunsKeepTheirRows() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        var settings = Self.settings()
        settings.force = true
        let publisher = Publisher(connection: connection)
        let runs = try (0..<3).map { _ in try publisher.publish(.popularity, settings: settings).runID }
        let retention = RunRetention(connection: connection, logger: .init(label: "test"))
        XCTAssertFalse(try retention.hasRows(runs[0]), "the oldest of three runs is dropped with keep = 2")
        XCTAssertTrue(try retention.hasRows(runs[1]))
        XCTAssertTrue(try retention.hasRows(runs[2]))
        XCTAssertThrowsError(try RunCatalog(connection: connection).promote(runs[0], preferredServing: nil))
    }

    func testAnOrphanedRunIsCleanedUpAndReadersStayOnTheCurrentRun() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        let publisher = Publisher(connection: connection)
        let first = try publisher.publish(.popularity, settings: Self.settings())

        // What a process killed mid-publish leaves: a running row and attached partitions.
        let orphan = try ModelRunStore(connection: connection).start(model: "popularity", parameters: [String: String]())
        let dataset = try loadDataset(from: connection)
        let model = try Popularity().fit(ratings: dataset.ratings, users: dataset.users, movies: dataset.movies)
        let content = try RunContentBuilder(settings: Self.settings()).build(model: model, dataset: dataset, clipsScores: false)
        try RunWriter(connection: connection, logger: .init(label: "test")).write(content, runID: orphan)
        XCTAssertEqual(try connection.execute("select count(distinct run_id) from latent.recommendations")[0, 0], "1")
        XCTAssertEqual(try connection.execute("select min(run_id) from latent.recommendations")[0, 0], String(first.runID))

        let next = try publisher.publish(.popularity, settings: Self.settings())
        let status = try connection.query("select status from latent.model_runs where run_id = $1::bigint", [String(orphan)])
        XCTAssertEqual(status[0, 0], "failed")
        XCTAssertFalse(try RunRetention(connection: connection, logger: .init(label: "test")).hasRows(orphan))
        XCTAssertEqual(try currentRun(connection, model: "popularity"), next.runID)
    }

    /// The run's tables load in two sessions; when the server refuses the second one, every
    /// table loads on the first, the same rows, and a warning says so.
    func testWithoutASecondSessionEveryTableLoadsOnOne() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        let dataset = try loadDataset(from: connection)
        let model = try Self.als().fit(dataset.ratings, of: dataset)
        let content = try RunContentBuilder(settings: Self.settings()).build(model: model, dataset: dataset, clipsScores: true)
        let store = ModelRunStore(connection: connection)
        let twoLanes = try store.start(model: "als", parameters: [String: String]())
        let twoLaneRows = try RunWriter(connection: connection, logger: .init(label: "test")).write(content, runID: twoLanes)
        struct Refused: Error {}
        let log = CapturedLog()
        var writer = RunWriter(connection: connection, logger: log.logger())
        writer.openSession = { _ in throw Refused() }
        let oneLane = try store.start(model: "als", parameters: [String: String]())
        XCTAssertEqual(try writer.write(content, runID: oneLane), twoLaneRows)
        XCTAssertEqual(log.lines(containing: "no second session").count, 1)
        for table in RunTable.allCases {
            let counts = try connection.execute(
                "select (select count(*) from \(table.partition(twoLanes))), (select count(*) from \(table.partition(oneLane)))")
            XCTAssertEqual(counts[0, 0], counts[0, 1], "\(table)")
            XCTAssertNotEqual(counts[0, 1], "0", "\(table)")
        }
    }

    func testOnlyOneProcessTrainsAtATime() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.migrated()
        try Self.seed(connection)
        // Another instance (its own session) holds the training lock.
        let other = try database.connect()
        XCTAssertTrue(try TrainingLock(connection: other).tryAcquire())
        XCTAssertThrowsError(try Publisher(connection: connection).publish(.popularity, settings: Self.settings())) { error in
            XCTAssertEqual(error as? PublishError, .trainingInProgress)
        }
        XCTAssertEqual(try connection.execute("select count(*) from latent.model_runs")[0, 0], "0", "no run was started")
        // Its session ends (a crash): the lock goes with it. pg_terminate_backend with a
        // timeout returns once the backend has exited.
        let pid = try XCTUnwrap(try other.execute("select pg_backend_pid()")[0, 0])
        XCTAssertEqual(try connection.execute("select pg_terminate_backend(\(pid), 10000)")[0, 0], "t")
        XCTAssertEqual(try Publisher(connection: connection).publish(.popularity, settings: Self.settings()).status, .current)
    }

    func testReaderRoleReadsTheViewsAndNothingElse() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        _ = try Publisher(connection: connection).publish(Self.als(), settings: Self.settings())
        try connection.execute("set role latent_reader")
        for view in ["recommendations", "model_recommendations", "similar", "genre_features", "movie_embeddings", "user_embeddings", "current_models"] {
            XCTAssertNoThrow(try connection.execute("select * from latent.\(view) limit 1"), view)
        }
        XCTAssertGreaterThan(Int(try connection.execute("select count(*) from latent.similar")[0, 0] ?? "0") ?? 0, 0)
        for statement in [
            "select * from latent.ratings limit 1", "select * from latent.user_recommendations limit 1",
            "select * from latent.model_runs limit 1", "insert into latent.excluded_movies values (1, 'x')",
            "delete from latent.current_runs",
        ] {
            XCTAssertThrowsError(try connection.execute(statement), statement) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", statement)
            }
        }
        try connection.execute("reset role")
    }

    func testAConcurrentReaderSeesOneWholeRunThroughPublishesAndRollbacks() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.migrated()
        try Self.seed(connection)
        let publisher = Publisher(connection: connection)
        var settings = Self.settings()
        settings.force = true
        let first = try publisher.publish(.popularity, settings: settings)

        let reader = ViewReader(connection: try database.connect())
        let thread = Thread { reader.loop() }
        thread.start()
        var runs = [first.runID]
        for round in 0..<4 {
            runs.append(try publisher.publish(round % 2 == 0 ? .popularity : Self.als(), settings: settings).runID)
            _ = try RunCatalog(connection: connection).promote(runs[runs.count - 2], preferredServing: "popularity")
        }
        reader.stop()
        XCTAssertTrue(reader.finished.wait(timeout: .now() + 30) == .success, "the reader stopped")
        XCTAssertEqual(reader.problems, [], "every read saw one whole run")
        XCTAssertGreaterThan(reader.reads, 10)
        XCTAssertGreaterThan(reader.runsSeen.count, 1, "the reader saw the switches happen")
    }

    // MARK: - Helpers

    private func currentRun(_ connection: PostgresConnection, model: String) throws -> Int64? {
        try connection.query("select run_id from latent.current_runs where model = $1", [model])[0, 0].flatMap { Int64($0) }
    }

    private func ratedMovies(_ connection: PostgresConnection) throws -> [Int64: Set<Int64>] {
        var rated: [Int64: Set<Int64>] = [:]
        try connection.copyOut("copy (select user_id, movie_id from latent.ratings) to stdout (format binary)") { row in
            rated[try row.int64(0), default: []].insert(try row.int64(1))
        }
        return rated
    }

    func testTheNightlySearchContinuesFromTheCurrentRunsTunedValues() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        var settings = Self.settings()
        settings.tuneBudget = 60
        settings.force = true
        let first = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        let second = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        func parameters(_ run: Int64) throws -> [String: String] { try runParameters(run, connection) }
        let firstParameters = try parameters(first.runID), secondParameters = try parameters(second.runID)
        XCTAssertNil(firstParameters["tuneContinuedFromRun"], "the first run starts from the defaults")
        XCTAssertEqual(secondParameters["tuneContinuedFromRun"], String(first.runID))
        XCTAssertEqual(firstParameters["tuneTrials"], "8", "small data: every trial fits in the budget")
        // The first trial of the second search is the first run's winner, so it can only do as well or better
        // on its own validation split; its parameters are a draw around the first winner's.
        let firstLambda = try XCTUnwrap(Double(firstParameters["lambda"] ?? ""))
        let secondLambda = try XCTUnwrap(Double(secondParameters["lambda"] ?? ""))
        XCTAssertLessThanOrEqual(secondLambda, firstLambda * 2 + 1e-6)
        XCTAssertGreaterThanOrEqual(secondLambda, firstLambda / 2 - 1e-6)
        XCTAssertNotNil(second.durations["tune"])

        settings.tuneBudget = 0
        let untuned = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        XCTAssertNil(try parameters(untuned.runID)["tuneTrials"], "budget 0: no search")
    }

    /// A budget that buys one trial only would try the current values again: the search is
    /// skipped, the current run's values are kept and its trial's seconds carried forward.
    func testABudgetForOneTrialKeepsTheCurrentValuesWithoutSearching() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try Self.seed(connection)
        var settings = Self.settings()
        (settings.tuneBudget, settings.force) = (60, true)
        let tuned = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        let tunedParameters = try runParameters(tuned.runID, connection)
        let trialSeconds = try XCTUnwrap(Double(tunedParameters["tuneTrialSeconds"] ?? ""))
        XCTAssertGreaterThan(trialSeconds, 0)

        settings.tuneBudget = trialSeconds * 1.5
        let skipped = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        let skippedParameters = try runParameters(skipped.runID, connection)
        XCTAssertEqual(skippedParameters["tuneTrials"], "0")
        XCTAssertEqual(skippedParameters["tuneContinuedFromRun"], String(tuned.runID))
        XCTAssertEqual(skippedParameters["lambda"], tunedParameters["lambda"], "the current run's winner, unchanged")
        XCTAssertEqual(skippedParameters["k"], tunedParameters["k"])
        XCTAssertEqual(skippedParameters["tuneTrialSeconds"], tunedParameters["tuneTrialSeconds"], "carried forward")

        settings.tuneBudget = trialSeconds * 2.5 + 60
        let searched = try Publisher(connection: connection).publish(Self.als(), settings: settings)
        XCTAssertGreaterThan(Int(try runParameters(searched.runID, connection)["tuneTrials"] ?? "") ?? 0, 1, "a budget for two trials searches")
    }

    private func runParameters(_ run: Int64, _ connection: PostgresConnection) throws -> [String: String] {
        let text = try XCTUnwrap(try connection.query(
            "select parameters from latent.model_runs where run_id = $1::bigint", [String(run)])[0, 0])
        return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }
}

/// The serving model's vectors as readers see them in the views.
private struct PublishedVectors {
    var users: [Int64: (bias: Float, vector: [Float])] = [:]
    var movies: [Int64: (bias: Float, vector: [Float])] = [:]
    var globalMean: Float = 0

    init(_ connection: PostgresConnection) throws {
        for (view, key) in [("user_embeddings", "user_id"), ("movie_embeddings", "movie_id")] {
            let rows = try connection.execute("select \(key), bias, vector::text from latent.\(view)")
            for r in 0..<rows.rowCount {
                guard let id = rows[r, 0].flatMap({ Int64($0) }), let bias = rows[r, 1].flatMap({ Float($0) }), let text = rows[r, 2] else { continue }
                let vector = text.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) }
                if view == "user_embeddings" { users[id] = (bias, vector) } else { movies[id] = (bias, vector) }
            }
        }
        globalMean = Float(try connection.execute("select global_mean from latent.current_models where serves_vectors")[0, 0] ?? "0") ?? 0
    }

    /// `b_u + b_m + p_u . q_m` (the prediction without the global mean).
    func score(user: Int64, movie: Int64) -> Float {
        guard let u = users[user], let m = movies[movie] else { return -.infinity }
        return u.bias + m.bias + zip(u.vector, m.vector).map(*).reduce(0, +)
    }
}

/// Reads the views in a loop on its own connection, recording anything a reader must never
/// see: two runs in one statement, a short list, an error.
final class ViewReader: @unchecked Sendable {
    private let connection: PostgresConnection
    private let lock = NSLock()
    private var stopping = false
    private(set) var problems: [String] = []
    private(set) var reads = 0
    private(set) var runsSeen = Set<String>()
    /// The run the latest read saw.
    private(set) var lastRun: String?
    let finished = DispatchSemaphore(value: 0)

    init(connection: PostgresConnection) { self.connection = connection }

    func stop() { lock.withLock { stopping = true } }

    /// How many reads have completed and which run the latest one saw (safe while it runs).
    func progress() -> (reads: Int, lastRun: String?) { lock.withLock { (reads, lastRun) } }

    func loop() {
        defer { finished.signal() }
        while !lock.withLock({ stopping }) {
            do {
                let r = try connection.execute("""
                    select count(distinct run_id), min(run_id), count(*), count(distinct user_id),
                           (select count(*) from latent.recommendations where user_id = 5)
                    from latent.recommendations
                    """)
                lock.withLock {
                    reads += 1
                    if let run = r[0, 1] { runsSeen.insert(run) }
                    lastRun = r[0, 1]
                    if r[0, 0] != "1" { problems.append("runs in one read: \(r[0, 0] ?? "nil")") }
                    if r[0, 2] != "2400" || r[0, 3] != "120" { problems.append("rows \(r[0, 2] ?? "nil") for \(r[0, 3] ?? "nil") users") }
                    if r[0, 4] != "20" { problems.append("user 5's list has \(r[0, 4] ?? "nil") rows") }
                }
            } catch {
                lock.withLock { problems.append("error: \(error)") }
            }
        }
    }
}

/// The serving rule on its own: best validation NDCG@10, never below popularity.
final class ServingChoiceTests: XCTestCase {
    private func candidate(_ model: String, ndcg: Double, popularity: Double = 0.12, dimensions: Int = 16) -> ServingChoice.Candidate {
        .init(model: model, metrics: RunMetrics(rmse: nil, mae: nil, ndcgAt10: ndcg, recallAt20: 0, popularityNdcgAt10: popularity), dimensions: dimensions)
    }

    func testTheBestModelAbovePopularityServesAndVectorsComeFromAModelWithVectors() throws {
        let choice = try XCTUnwrap(ServingChoice.choose(from: [
            candidate("popularity", ndcg: 0.12, dimensions: 0), candidate("als", ndcg: 0.20), candidate("mf", ndcg: 0.05),
        ], preferred: nil))
        XCTAssertEqual(choice.lists, "als")
        XCTAssertEqual(choice.vectors, "als")
        XCTAssertEqual(choice.belowPopularity, ["mf"])
    }

    func testAModelBelowPopularityNeverServesListsEvenWhenPreferred() throws {
        let choice = try XCTUnwrap(ServingChoice.choose(from: [
            candidate("popularity", ndcg: 0.12, dimensions: 0), candidate("als", ndcg: 0.10),
        ], preferred: "als"))
        XCTAssertEqual(choice.lists, "popularity")
        XCTAssertTrue(choice.listsReason.contains("LATENT_SERVE_MODEL"), choice.listsReason)
        XCTAssertEqual(choice.vectors, "als", "vectors come from the best model that has them")
    }

    func testThePreferredModelServesWhenItBeatsPopularity() throws {
        let choice = try XCTUnwrap(ServingChoice.choose(from: [
            candidate("popularity", ndcg: 0.12, dimensions: 0), candidate("als", ndcg: 0.20), candidate("mf", ndcg: 0.15),
        ], preferred: "mf"))
        XCTAssertEqual(choice.lists, "mf")
        XCTAssertNil(ServingChoice.choose(from: [], preferred: nil))
    }

    func testGuardrailMargins() {
        let current = RunMetrics(rmse: 0.90, mae: nil, ndcgAt10: 0.20, recallAt20: 0, popularityNdcgAt10: 0.1)
        let guardrail = Guardrail(maxRMSEIncrease: 0.03, maxNDCGDrop: 0.10)
        XCTAssertNil(guardrail.rejection(of: RunMetrics(rmse: 0.92, mae: nil, ndcgAt10: 0.19, recallAt20: 0, popularityNdcgAt10: 0.1), against: current))
        XCTAssertNotNil(guardrail.rejection(of: RunMetrics(rmse: 0.93, mae: nil, ndcgAt10: 0.20, recallAt20: 0, popularityNdcgAt10: 0.1), against: current))
        XCTAssertNotNil(guardrail.rejection(of: RunMetrics(rmse: 0.90, mae: nil, ndcgAt10: 0.17, recallAt20: 0, popularityNdcgAt10: 0.1), against: current))
    }
}
