import Foundation
import Kafka
import Logging
import Postgres

/// Writes an ``IngestBatch`` in ONE PostgreSQL transaction: ratings (binary COPY, then a merge by
/// `ts`), movies, rejected events, and the next offset of every partition in the batch.
///
/// The merge rule, per (user, movie): the event with the newest `ts` wins (a tie goes to the later
/// arrival). A rating replaces an older live rating or an older tombstone; a retraction deletes
/// an older live rating and records a tombstone; an older event changes nothing. At most one of
/// a live row and a tombstone exists per pair.
///
/// How (PostgreSQL 15 and later), cheapest first:
/// - live ratings only, and no tombstone anywhere (the common case): one query over the batch's
///   keys finds the pairs that already have a row; the others are COPYed straight into
///   `latent.ratings` (bulk heap insert), the existing ones go through the staging table and `MERGE`;
/// - otherwise: binary COPY of the batch into a temporary staging table, then `MERGE` (one index
///   probe per pair, then a plain insert or an update), tombstones checked and cleared.
/// `INSERT ... ON CONFLICT` costs about twice the server time per new pair (a speculative
/// insertion: pre-check probe, insertion lock, index insert, confirmation record), so it is used
/// only on older servers and to redo a batch that met a pair inserted by a concurrent transaction
/// after it looked (a unique violation; ON CONFLICT waits for that transaction instead). Like the
/// ON CONFLICT statements, this assumes that one pair is written by one writer at a time: events
/// are keyed by user, and a partition belongs to one writer.
///
/// Fencing: the transaction locks the offset rows of the batch's partitions and checks that each partition's stored
/// offset is still the one this consumer started the batch from. If another group member wrote
/// the partition meanwhile (a rebalance it did not notice in time), the batch is rolled back and
/// ``IngestWriteError/fenced(_:)`` tells the caller to re-read the stored offsets.
///
/// Not thread-safe: one writer per connection, used from one thread at a time.
package final class BatchWriter {
    package let connection: PostgresConnection
    package let consumerGroup: String
    private var sessionReady = false

    package init(connection: PostgresConnection, consumerGroup: String) {
        self.connection = connection
        self.consumerGroup = consumerGroup
    }

    /// Re-opens the session after a connection failure (temporary tables are recreated lazily).
    package func reconnect() throws {
        sessionReady = false
        try connection.reconnect()
    }

    static func storedOffsets(connection: PostgresConnection, consumerGroup: String, forUpdate: Bool) throws -> [TopicPartition: Int64] {
        let result = try connection.query(
            "select topic, partition, next_offset from latent.consumer_offsets where consumer_group = $1"
                + (forUpdate ? " for update" : ""),
            [consumerGroup])
        return try offsets(in: result)
    }

    /// Parses `(topic, partition, next_offset)` rows. An unreadable row fails the read: skipping
    /// it would look like a partition with no stored offset, to be read again from the start.
    private static func offsets(in result: PostgresResult) throws -> [TopicPartition: Int64] {
        var offsets: [TopicPartition: Int64] = [:]
        for row in 0..<result.rowCount {
            guard let topic = result[row, 0], let partition = result[row, 1].flatMap({ Int32($0) }),
                  let offset = result[row, 2].flatMap({ Int64($0) })
            else {
                let text = (0..<3).map { result[row, $0] ?? "NULL" }.joined(separator: ", ")
                throw PostgresError(kind: .decodingFailed, message: "unreadable row in latent.consumer_offsets: (\(text))")
            }
            offsets[TopicPartition(topic: topic, partition: partition)] = offset
        }
        return offsets
    }

    /// Writes `batch` and commits. `expectedOffsets` holds, for each partition of the batch, the
    /// offset this consumer believes is stored (nil: no row yet).
    ///
    /// - Throws: ``IngestWriteError/fenced(_:)`` when a stored offset differs from the expected
    ///   one (nothing written); otherwise ``PostgresError`` (nothing written either).
    package func write(_ batch: IngestBatch, expectedOffsets: [TopicPartition: Int64?]) throws {
        try prepareSession()
        let useMerge = connection.serverVersion >= 150_000
        do {
            try writeTransaction(batch, expectedOffsets: expectedOffsets, useMerge: useMerge)
        } catch let error as PostgresError where useMerge && error.sqlState == SQLState.uniqueViolation {
            // A concurrent transaction inserted a pair after this batch looked for it (unique
            // violation from the COPY or MERGE; all rolled back): redo with ON CONFLICT, which waits.
            try writeTransaction(batch, expectedOffsets: expectedOffsets, useMerge: false)
        }
    }

    private func writeTransaction(_ batch: IngestBatch, expectedOffsets: [TopicPartition: Int64?], useMerge: Bool) throws {
        try connection.transaction {
            // synchronous_commit off is safe for exactly-once: the offsets are in the same
            // transaction, so a server crash that loses the last commits loses their offsets too,
            // and the events are read again.
            // The join settings: the staging table is never analysed, and against a large ratings
            // table the planner prefers hashing all of it (a sequential scan per batch); nested loops
            // over the staged pairs, sorted by key, probe only the index pages they need. JIT off:
            // those plans cost enough to trigger compilation, which takes longer than it saves.
            try connection.execute("""
                set local synchronous_commit = off; set local jit = off;
                set local enable_hashjoin = off; set local enable_mergejoin = off
                """)
            try checkFence(batch, expectedOffsets: expectedOffsets)
            try writeRatings(batch, useMerge: useMerge)
            try writeMovies(batch)
            try writeRejected(batch)
            try writeOffsets(batch)
        }
    }

    // MARK: Steps

    private func prepareSession() throws {
        guard !sessionReady else { return }
        // Temporary tables live as long as the session; ON COMMIT DELETE ROWS empties them after
        // every batch, so a rolled-back or retried batch always starts from empty staging tables.
        try connection.execute("""
            create temporary table if not exists latent_ingest_ratings (
                user_id bigint not null, movie_id bigint not null, rating real, rated_at timestamptz not null
            ) on commit delete rows;
            create temporary table if not exists latent_ingest_movies (
                movie_id bigint not null, title text not null, genres text[] not null
            ) on commit delete rows;
            create temporary table if not exists latent_ingest_rejected (
                topic text not null, partition int not null, "offset" bigint not null,
                key bytea, payload bytea not null, reason text not null
            ) on commit delete rows;
            """)
        sessionReady = true
    }

    private func checkFence(_ batch: IngestBatch, expectedOffsets: [TopicPartition: Int64?]) throws {
        guard !batch.nextOffsets.isEmpty else { return }
        // Lock only this batch's partitions: parallel writers own disjoint partitions.
        let (topics, partitions, _) = Self.arrays(batch.nextOffsets)
        let result = try connection.query("""
            select topic, partition, next_offset from latent.consumer_offsets
            where consumer_group = $1
              and (topic, partition) in (select * from unnest($2::text[], $3::int[]))
            order by topic, partition
            for update
            """, [consumerGroup, topics, partitions])
        let stored = try Self.offsets(in: result)
        var moved: [TopicPartition: Int64?] = [:]
        for tp in batch.nextOffsets.keys {
            let expected = expectedOffsets[tp] ?? nil
            if stored[tp] != expected { moved[tp] = stored[tp] }
        }
        if !moved.isEmpty { throw IngestWriteError.fenced(moved) }
    }

    /// The partitions of `offsets` as PostgreSQL array literals (topics, partitions, offsets), sorted.
    static func arrays(_ offsets: [TopicPartition: Int64]) -> (String, String, String) {
        let entries = offsets.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        let topics = "{" + entries.map { arrayElement($0.key.topic) }.joined(separator: ",") + "}"
        let partitions = "{" + entries.map { String($0.key.partition) }.joined(separator: ",") + "}"
        let values = "{" + entries.map { String($0.value) }.joined(separator: ",") + "}"
        return (topics, partitions, values)
    }

    private func writeRatings(_ batch: IngestBatch, useMerge: Bool) throws {
        guard !batch.ratings.isEmpty else { return }
        // In primary-key order, the merge walks the ratings index once instead of at random.
        let ordered = batch.latestRatings()
        let hasRatings = ordered.contains { $0.rating != nil }
        let hasRetractions = ordered.contains { $0.rating == nil }
        let tombstones = useMerge && hasRatings
            ? try connection.query("select exists (select 1 from latent.rating_tombstones)")[0, 0] == "t" : true
        if useMerge && !hasRetractions && !tombstones {
            try insertOrMergeRatings(ordered)
            return
        }
        try stage(ordered)
        var sql = ""
        if hasRatings {
            sql += useMerge ? Self.mergeRatingsSQL(checkingTombstones: tombstones) : Self.upsertRatingsSQL
        }
        if hasRetractions { sql += Self.mergeRetractionsSQL }
        try connection.execute(sql)
    }

    /// Copies `ratings` (in key order) into the staging table.
    private func stage<Ratings: Collection<IngestBatch.StagedRating>>(_ ratings: Ratings) throws {
        try connection.copyIn("copy pg_temp.latent_ingest_ratings (user_id, movie_id, rating, rated_at) from stdin (format binary)") { writer in
            for staged in ratings {
                try writer.beginRow(fieldCount: 4)
                writer.append(staged.userID)
                writer.append(staged.movieID)
                if let rating = staged.rating { writer.append(rating) } else { writer.appendNull() }
                writer.appendTimestamp(epochMicroseconds: staged.timestampMicros)
            }
        }
    }

    /// The common case (live ratings only, no tombstones anywhere): asks which pairs already have
    /// a row, copies the new pairs straight into `latent.ratings` and merges only the others.
    /// A direct COPY inserts rows in bulk (one WAL record per heap page) and skips the staging
    /// table and the merge's executor work, which the benchmark showed to be a large share of the
    /// server's time per event. A pair inserted meanwhile by a concurrent transaction makes the
    /// COPY fail with a unique violation, which ``write(_:expectedOffsets:)`` redoes with ON CONFLICT.
    private func insertOrMergeRatings(_ ordered: [IngestBatch.StagedRating]) throws {
        var users = "{"
        var movies = "{"
        users.reserveCapacity(ordered.count * 8)
        movies.reserveCapacity(ordered.count * 8)
        for (i, staged) in ordered.enumerated() {
            if i > 0 { users += ","; movies += "," }
            users += String(staged.userID)
            movies += String(staged.movieID)
        }
        users += "}"
        movies += "}"
        let existing = try connection.query("""
            select k.i - 1 from unnest($1::bigint[], $2::bigint[]) with ordinality as k(user_id, movie_id, i)
            join latent.ratings r on r.user_id = k.user_id and r.movie_id = k.movie_id
            """, [users, movies])
        var exists = [Bool](repeating: false, count: ordered.count)
        for row in 0..<existing.rowCount {
            if let index = existing[row, 0].flatMap({ Int($0) }), exists.indices.contains(index) { exists[index] = true }
        }
        try connection.copyIn("copy latent.ratings (user_id, movie_id, rating, rated_at) from stdin (format binary)") { writer in
            for (i, staged) in ordered.enumerated() where !exists[i] {
                guard let rating = staged.rating else { continue }
                try writer.beginRow(fieldCount: 4)
                writer.append(staged.userID)
                writer.append(staged.movieID)
                writer.append(rating)
                writer.appendTimestamp(epochMicroseconds: staged.timestampMicros)
            }
        }
        if existing.rowCount > 0 {
            try stage(ordered.indices.lazy.filter { exists[$0] }.map { ordered[$0] })
            try connection.execute(Self.mergeRatingsSQL(checkingTombstones: false))
        }
    }

    /// The last-write-wins rule every merge applies: a staged event `s` counts only when
    /// `latent.<table>` holds no newer row (by `column`) for the same user and movie.
    static func notSuperseded(byNewer table: String, at column: String) -> String {
        """
          and not exists (
              select 1 from latent.\(table) newer
              where newer.user_id = s.user_id and newer.movie_id = s.movie_id and newer.\(column) > s.rated_at)
        """
    }

    /// Live ratings: replace an older-or-equal live row, else insert. With `checkingTombstones`,
    /// first remove the older-or-equal tombstones the ratings supersede, and skip the ratings that
    /// a newer tombstone retracts.
    static func mergeRatingsSQL(checkingTombstones: Bool) -> String {
        let notRetracted = checkingTombstones ? notSuperseded(byNewer: "rating_tombstones", at: "retracted_at") : ""
        let clearTombstones = checkingTombstones ? """
            delete from latent.rating_tombstones as t
            using pg_temp.latent_ingest_ratings as s
            where s.rating is not null
              and t.user_id = s.user_id and t.movie_id = s.movie_id and t.retracted_at <= s.rated_at;

            """ : ""
        return clearTombstones + """
            merge into latent.ratings as r
            using (
                select s.user_id, s.movie_id, s.rating, s.rated_at
                from pg_temp.latent_ingest_ratings s
                where s.rating is not null
            \(notRetracted)
            ) as s
            on r.user_id = s.user_id and r.movie_id = s.movie_id
            when matched and r.rated_at <= s.rated_at then
                update set rating = s.rating, rated_at = s.rated_at
            when not matched then
                insert (user_id, movie_id, rating, rated_at) values (s.user_id, s.movie_id, s.rating, s.rated_at);

            """
    }

    /// Live ratings with ON CONFLICT (servers before 15, and the redo after a unique violation):
    /// applies when no newer tombstone exists, replaces an older-or-equal live row, and removes the
    /// (older) tombstone it supersedes.
    static let upsertRatingsSQL = """
        with incoming as materialized (
            select s.user_id, s.movie_id, s.rating, s.rated_at
            from pg_temp.latent_ingest_ratings s
            where s.rating is not null
            \(notSuperseded(byNewer: "rating_tombstones", at: "retracted_at"))
        ), superseded_tombstones as (
            delete from latent.rating_tombstones t using incoming i
            where t.user_id = i.user_id and t.movie_id = i.movie_id
        )
        insert into latent.ratings as r (user_id, movie_id, rating, rated_at)
        select user_id, movie_id, rating, rated_at from incoming
        on conflict (user_id, movie_id) do update
            set rating = excluded.rating, rated_at = excluded.rated_at
            where r.rated_at <= excluded.rated_at;

        """

    /// Retractions: apply when no newer live rating exists; delete the live row and keep the
    /// newest tombstone.
    static let mergeRetractionsSQL = """
        with incoming as materialized (
            select s.user_id, s.movie_id, s.rated_at
            from pg_temp.latent_ingest_ratings s
            where s.rating is null
            \(notSuperseded(byNewer: "ratings", at: "rated_at"))
        ), retracted as (
            delete from latent.ratings r using incoming i
            where r.user_id = i.user_id and r.movie_id = i.movie_id
        )
        insert into latent.rating_tombstones as t (user_id, movie_id, retracted_at)
        select user_id, movie_id, rated_at from incoming
        on conflict (user_id, movie_id) do update
            set retracted_at = excluded.retracted_at
            where t.retracted_at <= excluded.retracted_at;

        """

    private func writeMovies(_ batch: IngestBatch) throws {
        guard !batch.movies.isEmpty else { return }
        try connection.copyIn("copy pg_temp.latent_ingest_movies (movie_id, title, genres) from stdin (format binary)") { writer in
            for movie in batch.movies {
                try writer.beginRow(fieldCount: 3)
                writer.append(movie.movieID)
                writer.append(movie.title)
                writer.append(textArray: movie.genres)
            }
        }
        try connection.execute("""
            insert into latent.movies as m (movie_id, title, genres, updated_at)
            select movie_id, title, genres, now() from pg_temp.latent_ingest_movies
            on conflict (movie_id) do update
                set title = excluded.title, genres = excluded.genres, updated_at = excluded.updated_at;
            """)
    }

    private func writeRejected(_ batch: IngestBatch) throws {
        guard !batch.rejected.isEmpty else { return }
        try connection.copyIn(
            #"copy pg_temp.latent_ingest_rejected (topic, partition, "offset", key, payload, reason) from stdin (format binary)"#
        ) { writer in
            for message in batch.rejected {
                try writer.beginRow(fieldCount: 6)
                writer.append(message.topic)
                writer.append(message.partition)
                writer.append(message.offset)
                if let key = message.key { writer.append(bytes: key) } else { writer.appendNull() }
                writer.append(bytes: message.payload)
                writer.append(message.rejection.description)
            }
        }
        // DO NOTHING: re-ingesting a range on purpose (offsets reset by hand) must not fail.
        try connection.execute(#"""
            insert into latent.rejected_events (topic, partition, "offset", key, payload, reason)
            select topic, partition, "offset", key, payload, reason from pg_temp.latent_ingest_rejected
            on conflict (topic, partition, "offset") do nothing;
            """#)
    }

    private func writeOffsets(_ batch: IngestBatch) throws {
        guard !batch.nextOffsets.isEmpty else { return }
        let (topics, partitions, offsets) = Self.arrays(batch.nextOffsets)
        try connection.query("""
            insert into latent.consumer_offsets (consumer_group, topic, partition, next_offset, updated_at)
            select $1, u.topic, u.partition, u.next_offset, now()
            from unnest($2::text[], $3::int[], $4::bigint[]) as u(topic, partition, next_offset)
            on conflict (consumer_group, topic, partition) do update
                set next_offset = excluded.next_offset, updated_at = excluded.updated_at
            """, [consumerGroup, topics, partitions, offsets])
    }

    /// A quoted element of a PostgreSQL array literal.
    static func arrayElement(_ text: String) -> String {
        var out = "\""
        for ch in text {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out + "\""
    }
}

/// Why a batch was not written (besides PostgreSQL errors).
package enum IngestWriteError: Error, CustomStringConvertible {
    /// Another consumer moved these partitions' stored offsets (value: what is stored now).
    case fenced([TopicPartition: Int64?])

    package var description: String {
        switch self {
        case .fenced(let moved):
            let list = moved.keys.map(\.description).sorted().joined(separator: ", ")
            return "the stored offsets of \(list) changed under this consumer (another group member wrote them); re-reading them"
        }
    }
}
