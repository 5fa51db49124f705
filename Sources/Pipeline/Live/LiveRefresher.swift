import Foundation
import Logging
import Models
import Postgres

/// The live path: after ratings change, the users' lists in the serving run are recomputed
/// and written in one transaction, so a reader sees their new list within a second instead of
/// after the next nightly run.
///
/// Each user is folded in against the current serving run's movie side (read back from its
/// tables and cached until the run changes) from all their ratings in `latent.ratings`, then
/// gets a fresh top-N with their rated movies and `latent.excluded_movies` left out (the same
/// rules as publishing). A brand-new user gets a list from their first rating; a retracted
/// rating is no longer excluded. Popularity lists are the same for everyone, so its users only
/// lose the movies they rated.
///
/// Not `Sendable`: it owns a connection; use it from one thread (``LiveRefreshService`` does).
package final class LiveRefresher {
    private let connection: PostgresConnection
    private let logger: Logger
    package let listLength: Int
    private var cached: (runID: Int64, model: FactorModel, context: FoldInContext?)?

    package init(connection: PostgresConnection, listLength: Int = 100, logger: Logger = Logger(label: "latent.live")) {
        self.connection = connection
        self.listLength = listLength
        self.logger = logger
    }

    /// Reconnects when the connection broke (PostgreSQL restarted); a no-op otherwise.
    package func reconnectIfNeeded() throws {
        if !connection.isConnected { try connection.reconnect() }
    }

    /// What one refresh did.
    package struct Report: Sendable, Equatable {
        /// The run written to (nil: nothing serves lists yet).
        package var runID: Int64?
        package var users: Int
        package var rows: Int
    }

    /// Recomputes and replaces the lists (and user vectors) of `userIDs` in the serving run.
    @discardableResult
    package func refresh(users userIDs: [Int64]) throws -> Report {
        guard !userIDs.isEmpty, let runID = try servingRun() else { return Report(runID: nil, users: 0, rows: 0) }
        let model = try model(of: runID)
        let ratings = try currentRatings(of: userIDs)
        let excluded = try excludedMovies()
        var lists: [(user: Int64, bias: Float, vector: [Float], list: [(movieID: Int64, score: Float)])] = []
        for user in userIDs {
            let rated = ratings[user] ?? []
            let (bias, vector) = try foldIn(rated, model: model.model, context: model.context)
            let exclude = excluded.union(rated.map(\.movieID))
            let list = try model.model.recommend(bias: bias, vector: vector, count: listLength, excluding: exclude)
            // EASE's vector is the user's catalogue-long row of rated movies: not published.
            lists.append((user, bias, model.model.kind.hasVectors ? vector : [], list))
        }
        let rows = try write(lists, runID: runID, clips: model.model.kind.defaultConfiguration.predictsRatings, scale: model.model.ratingScale)
        return Report(runID: runID, users: userIDs.count, rows: rows)
    }

    private func servingRun() throws -> Int64? {
        let result = try connection.execute(
            "select c.run_id from latent.current_runs c join latent.serving s on s.model = c.model where s.purpose = 'lists'")
        return result.rowCount > 0 ? result[0, 0].flatMap { Int64($0) } : nil
    }

    private func model(of runID: Int64) throws -> (runID: Int64, model: FactorModel, context: FoldInContext?) {
        if let cached, cached.runID == runID { return cached }
        let model = try FactorModel.published(runID: runID, from: connection)
        var context: FoldInContext?
        if model.foldsInWithRegularization {
            let regularization = try FoldInRegularization(model: model)
            context = regularization.context(for: model)
        }
        logger.info("live refresh follows a new serving run", metadata: ["run_id": "\(runID)", "model": "\(model.kind)", "movies": "\(model.movies.count)"])
        cached = (runID, model, context)
        return (runID, model, context)
    }

    /// Bias and vector from the user's ratings of movies the run knows (movies added since the
    /// run was trained cannot be scored and are left out). Popularity has no user side.
    private func foldIn(
        _ ratings: [(movieID: Int64, rating: Float)], model: FactorModel, context: FoldInContext?
    ) throws -> (Float, [Float]) {
        guard model.kind != .popularity else { return (0, []) }
        let known = ratings.filter { model.movies[$0.movieID] != nil }
        return try model.foldIn(ratings: known, context: context)
    }

    private func currentRatings(of userIDs: [Int64]) throws -> [Int64: [(movieID: Int64, rating: Float)]] {
        var ratings: [Int64: [(movieID: Int64, rating: Float)]] = [:]
        try connection.copyOut(
            "copy (select user_id, movie_id, rating from latent.ratings where user_id in (\(userIDs.map(String.init).joined(separator: ",")))) to stdout (format binary)"
        ) { row in
            ratings[try row.int64(0), default: []].append((try row.int64(1), try row.float(2)))
        }
        return ratings
    }

    private func excludedMovies() throws -> Set<Int64> {
        let result = try connection.execute("select movie_id from latent.excluded_movies")
        return Set((0..<result.rowCount).compactMap { result[$0, 0].flatMap { Int64($0) } })
    }

    /// Replaces the users' rows in the run's partitions, in one transaction.
    private func write(
        _ lists: [(user: Int64, bias: Float, vector: [Float], list: [(movieID: Int64, score: Float)])],
        runID: Int64, clips: Bool, scale: ClosedRange<Float>
    ) throws -> Int {
        let users = "{" + lists.map { String($0.user) }.joined(separator: ",") + "}"
        return try connection.transaction {
            try connection.query("delete from \(RunTable.userRecommendations.partition(runID)) where user_id = any($1::bigint[])", [users])
            try connection.query("delete from \(RunTable.userVectors.partition(runID)) where user_id = any($1::bigint[])", [users])
            let rows = try connection.copyIn(
                "copy \(RunTable.userRecommendations.partition(runID)) (\(RunTable.userRecommendations.columns)) from stdin (format binary)"
            ) { writer in
                for entry in lists {
                    for (rank, item) in entry.list.enumerated() {
                        try writer.beginRow(fieldCount: 5)
                        writer.append(runID)
                        writer.append(entry.user)
                        writer.append(Int32(rank + 1))
                        writer.append(item.movieID)
                        writer.append(clips ? min(max(item.score, scale.lowerBound), scale.upperBound) : item.score)
                    }
                }
            }
            try connection.copyIn(
                "copy \(RunTable.userVectors.partition(runID)) (\(RunTable.userVectors.columns)) from stdin (format binary)"
            ) { writer in
                for entry in lists {
                    try writer.beginRow(fieldCount: 4)
                    writer.append(runID)
                    writer.append(entry.user)
                    writer.append(floatArray: entry.vector)
                    writer.append(entry.bias)
                }
            }
            return rows
        }
    }
}
