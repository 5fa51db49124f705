import Records
import Logging
import Models
import Postgres

/// Bulk-loads MovieLens files straight into the `latent` schema, for bootstrapping a database
/// without going through Kafka.
///
/// Each import is one transaction: the file is streamed by binary COPY into a temporary staging
/// table, then merged into the live table with the same rules as ingest, so an import can be
/// repeated or combined with ingest:
/// - ratings: for each (user, movie) the newest `rated_at` wins, and on a tie the later arrival
///   (the import, or the later line of the file); a rating older than the pair's tombstone
///   (`latent.rating_tombstones`) is ignored, so retracted ratings are not resurrected, and a
///   rating that supersedes a tombstone removes it (at most one of a live row and a tombstone per
///   pair, as ingest keeps it);
/// - movies: the file's entry replaces the stored title and genres.
///
/// A bad line stops the import with an error naming the file and line, and nothing is written.
public struct Importer {
    private let connection: PostgresConnection
    private let logger: Logger

    public init(connection: PostgresConnection, logger: Logger = Logger(label: "latent.import")) {
        self.connection = connection
        self.logger = logger
    }

    /// Imports a ratings file in any MovieLens format (see `MovieLensFormat`).
    public func importRatings(from path: String) throws -> ImportSummary {
        try requireSchema()
        let started = ContinuousClock.now
        var copySeconds = 0.0
        var rowsRead = 0
        let rowsWritten = try connection.transaction {
            try connection.execute("""
                create temp table import_ratings (
                    user_id bigint not null, movie_id bigint not null, rating real not null, rated_at timestamptz not null
                ) on commit drop
                """)
            rowsRead = try connection.copyIn("copy import_ratings from stdin (format binary)") { writer in
                var record = 0
                try MovieLens.forEachRating(in: path) { rating in
                    record += 1
                    try Self.validate(rating, record: record, path: path)
                    try writer.beginRow(fieldCount: 4)
                    writer.append(rating.userID)
                    writer.append(rating.movieID)
                    writer.append(rating.rating)
                    writer.appendTimestamp(epochSeconds: rating.timestamp)
                    if record % 5_000_000 == 0 { logger.info("read \(record) ratings from \(path)") }
                }
            }
            copySeconds = started.secondsElapsed
            return try mergeRatings()
        }
        return ImportSummary(
            file: path, rowsRead: rowsRead, rowsWritten: rowsWritten, copySeconds: copySeconds,
            totalSeconds: started.secondsElapsed)
    }

    /// Imports a movie catalogue in any MovieLens format (see `MovieLensFormat`).
    public func importMovies(from path: String) throws -> ImportSummary {
        try requireSchema()
        let started = ContinuousClock.now
        let movies = try MovieLens.readMovies(in: path)
        for (position, movie) in movies.enumerated() where movie.movieID <= 0 {
            throw ImportError.invalidRecord(
                file: path, record: position + 1, reason: "movie id \(movie.movieID) is not a positive integer")
        }
        var copySeconds = 0.0
        let rowsWritten = try connection.transaction {
            try connection.execute("""
                create temp table import_movies (movie_id bigint not null, title text not null, genres text[] not null)
                on commit drop
                """)
            try connection.copyIn("copy import_movies from stdin (format binary)") { writer in
                for movie in movies {
                    try writer.beginRow(fieldCount: 3)
                    writer.append(movie.movieID)
                    writer.append(movie.title)
                    writer.append(textArray: movie.genres)
                }
            }
            copySeconds = started.secondsElapsed
            return try mergeAllowingDuplicates(
                unique: Self.mergeMovies(source: "import_movies"),
                deduplicated: Self.mergeMovies(source: """
                    (select distinct on (movie_id) * from import_movies order by movie_id, ctid desc)
                    """))
        }
        return ImportSummary(
            file: path, rowsRead: movies.count, rowsWritten: rowsWritten, copySeconds: copySeconds,
            totalSeconds: started.secondsElapsed)
    }

    // MARK: - Internals

    /// Runs the cheap merge; when the file holds the same key twice (the server's cardinality
    /// violation, 21000), runs the deduplicating one instead.
    private func mergeAllowingDuplicates(unique: String, deduplicated: String) throws -> Int {
        do {
            return try connection.transaction { try connection.execute(unique).affectedRows }
        } catch let error as PostgresError where error.sqlState == SQLState.cardinalityViolation {
            logger.info("the file lists some keys more than once; keeping the newest entry of each")
            return try connection.execute(deduplicated).affectedRows
        }
    }

    /// Merges `import_ratings` into `latent.ratings` with set-based statements (hash or merge
    /// joins, rows inserted in key order): much faster for large files than a row-by-row
    /// `ON CONFLICT` probe. Returns the rows inserted or updated.
    private func mergeRatings() throws -> Int {
        // Enough memory for the joins and the sort of a multi-million-row file.
        try connection.execute("set local work_mem = '256MB'")
        // Concurrent ingest waits until the import commits (readers don't): the merge below
        // then sees every live rating and tombstone, so a plain INSERT (2-3x faster than
        // INSERT ... ON CONFLICT for millions of rows) cannot collide. Should the two ever
        // deadlock, PostgreSQL aborts one transaction, which is then retried or reported.
        try connection.execute("lock table latent.ratings, latent.rating_tombstones in share row exclusive mode")
        // One row per pair: the newest rating, and of equal ones the last in the file.
        try connection.execute("""
            create temp table import_ratings_latest on commit drop as
            select distinct on (user_id, movie_id) user_id, movie_id, rating, rated_at
            from import_ratings
            order by user_id, movie_id, rated_at desc, ctid desc;
            analyze import_ratings_latest;
            """)
        // A stored rating is live, hence newer than any tombstone of its pair: a newer import
        // replaces it without consulting the tombstones.
        let updated = try connection.execute("""
            update latent.ratings r set rating = s.rating, rated_at = s.rated_at
            from import_ratings_latest s
            where r.user_id = s.user_id and r.movie_id = s.movie_id
              and (s.rated_at > r.rated_at or (s.rated_at = r.rated_at and s.rating <> r.rating))
            """).affectedRows
        // Tombstones superseded by an imported rating at least as new.
        try connection.execute("""
            delete from latent.rating_tombstones t using import_ratings_latest s
            where t.user_id = s.user_id and t.movie_id = s.movie_id and t.retracted_at <= s.rated_at
            """)
        // New pairs, unless a newer retraction exists. import_ratings_latest is in key
        // order, which the hash anti-joins keep: the primary key index is appended to, not
        // scattered over.
        let inserted = try connection.execute("""
            insert into latent.ratings (user_id, movie_id, rating, rated_at)
            select s.user_id, s.movie_id, s.rating, s.rated_at
            from import_ratings_latest s
            where not exists (
                    select 1 from latent.ratings x where x.user_id = s.user_id and x.movie_id = s.movie_id)
              and not exists (
                    select 1 from latent.rating_tombstones t
                    where t.user_id = s.user_id and t.movie_id = s.movie_id and t.retracted_at > s.rated_at)
            """).affectedRows
        return updated + inserted
    }

    private static func mergeMovies(source: String) -> String {
        """
        insert into latent.movies as m (movie_id, title, genres, updated_at)
        select s.movie_id, s.title, s.genres, now()
        from \(source) s
        on conflict (movie_id) do update
        set title = excluded.title, genres = excluded.genres, updated_at = excluded.updated_at
        where (m.title, m.genres) is distinct from (excluded.title, excluded.genres)
        """
    }

    /// The event contract's rules (positive ids, half-star ratings in 0.5...5.0).
    private static func validate(_ rating: RatingRecord, record: Int, path: String) throws(ImportError) {
        func fail(_ reason: String) -> ImportError {
            .invalidRecord(
                file: path, record: record,
                reason: "user \(rating.userID), movie \(rating.movieID): \(reason)")
        }
        guard rating.userID > 0 else { throw fail("user id must be a positive integer") }
        guard rating.movieID > 0 else { throw fail("movie id must be a positive integer") }
        guard rating.rating >= 0.5, rating.rating <= 5.0, (rating.rating * 2).rounded() == rating.rating * 2 else {
            throw fail("rating \(rating.rating) is not a multiple of 0.5 in 0.5...5.0")
        }
    }

    private func requireSchema() throws {
        let result = try connection.execute(
            "select to_regclass('latent.ratings') is not null and to_regclass('latent.movies') is not null")
        guard result[0, 0] == "t" else { throw ImportError.schemaMissing }
    }
}

/// What an import did.
public struct ImportSummary: Sendable, CustomStringConvertible {
    public var file: String
    /// Rows read from the file (and copied into the staging table).
    public var rowsRead: Int
    /// Rows inserted or changed in the live table (unchanged and superseded rows are not counted).
    public var rowsWritten: Int
    /// Time to read, encode and COPY the file.
    public var copySeconds: Double
    /// Time for the whole import, merge and commit included.
    public var totalSeconds: Double

    /// Rows read per second over the whole import.
    public var rowsPerSecond: Double { totalSeconds > 0 ? Double(rowsRead) / totalSeconds : 0 }

    public var description: String {
        let rate = Int(rowsPerSecond.rounded())
        let total = (totalSeconds * 100).rounded() / 100
        return "\(file): \(rowsRead) rows read, \(rowsWritten) inserted or updated in \(total) s (\(rate) rows/s)"
    }
}

/// Why an import stopped; nothing was written.
public enum ImportError: Error, Equatable, CustomStringConvertible {
    case schemaMissing
    case invalidRecord(file: String, record: Int, reason: String)

    public var description: String {
        switch self {
        case .schemaMissing:
            return "the latent schema is missing from this database; run `latent migrate` first"
        case .invalidRecord(let file, let record, let reason):
            return "\(file): record \(record) (counting data lines from 1): \(reason)"
        }
    }
}

extension ContinuousClock.Instant {
    /// Seconds elapsed since this instant.
    fileprivate var secondsElapsed: Double {
        let elapsed = duration(to: .now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}
