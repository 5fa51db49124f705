import Records
import Models
import Postgres

/// Loads the training snapshot from the `latent` schema: every live rating and the whole movie
/// catalogue, read with binary `COPY ... TO STDOUT` inside one repeatable-read, read-only
/// transaction (so ratings and movies are from the same instant, while ingest keeps writing).
///
/// Movies without ratings are included as catalogue-only movies (with title and genres), so
/// models can give them a genre prior. Catalogue movies come first, in `movie_id` order; with
/// `deterministicOrder` the ratings are read in `(user_id, movie_id)` order, so the same
/// database content always yields the same dense indices (and the same model for a seed).
///
/// - Parameters:
///   - connection: must not be inside a transaction.
///   - deterministicOrder: pass false to skip the ordering of ratings (faster on very large
///     tables; indices then follow the table's physical order).
public func loadDataset(from connection: PostgresConnection, deterministicOrder: Bool = true) throws -> Dataset {
    try loadSnapshot(from: connection, deterministicOrder: deterministicOrder).dataset
}

/// A training snapshot and when its newest rating was made.
public struct DatabaseSnapshot: Sendable {
    public var dataset: Dataset
    /// The newest `rated_at` among the ratings, in epoch seconds (nil without ratings).
    public var newestRatedAt: Int64?
}

/// Like ``loadDataset(from:deterministicOrder:)``, also reporting the newest rating's time.
public func loadSnapshot(from connection: PostgresConnection, deterministicOrder: Bool = true) throws -> DatabaseSnapshot {
    try connection.transaction {
        try connection.execute("set transaction isolation level repeatable read, read only")
        var builder = DatasetBuilder()
        var newest: Int64?
        try connection.copyOut(
            "copy (select movie_id, title, genres from latent.movies order by movie_id) to stdout (format binary)"
        ) { row in
            builder.add(MovieRecord(movieID: try row.int64(0), title: try row.string(1), genres: try row.textArray(2)))
        }
        let estimate = try connection.execute(
            "select greatest(reltuples, 0)::bigint from pg_class where oid = 'latent.ratings'::regclass")
        if let text = estimate[0, 0], let rows = Int(text), rows > 0 {
            builder.reserveCapacity(ratings: rows + rows / 16)
        }
        let order = deterministicOrder ? " order by user_id, movie_id" : ""
        try connection.copyOut(
            "copy (select user_id, movie_id, rating, rated_at from latent.ratings\(order)) to stdout (format binary)"
        ) { row in
            let record = RatingRecord(
                userID: try row.int64(0), movieID: try row.int64(1), rating: try row.float(2),
                timestamp: try row.timestampEpochSeconds(3))
            newest = max(newest ?? record.timestamp, record.timestamp)
            builder.add(record)
        }
        return DatabaseSnapshot(dataset: builder.build(), newestRatedAt: newest)
    }
}
