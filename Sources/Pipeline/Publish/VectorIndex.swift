import Foundation
import Logging
import Models
import Postgres

/// pgvector embeddings of one run, for `order by embedding <=> $1 limit 10`.
///
/// ## Where the `vector` column lives, and why
///
/// The run tables of migration 002 (`latent.movie_vectors`, `latent.user_vectors`) keep their
/// `real[]` column only: a migration must apply on servers without pgvector (Debian's
/// PostgreSQL 15 has none), and a partition cannot carry a column its parent lacks (attach
/// requires the same columns, types and typmods). So when the server has pgvector, each run
/// also gets partitions of its own in a second set of partitioned tables, created here at
/// publish time rather than by a migration:
///
/// - `latent.movie_embedding_index_k<k>` and `latent.user_embedding_index_k<k>`:
///   `(run_id, movie_id | user_id, embedding vector(k))`, partitioned by list (run_id), one
///   parent per dimension `k`. HNSW needs a fixed dimension (`vector` without a typmod cannot be
///   indexed except through an expression, which a reader's `embedding <=> $1` would not match),
///   and a partition's typmod must equal its parent's: hence one parent per `k`.
/// - `latent.movie_embedding_index_r<run>` / `latent.user_embedding_index_r<run>`: the run's
///   partitions, filled server-side from the run's `real[]` partitions (`real[]::vector`),
///   indexed (HNSW with `vector_cosine_ops` on movies; a B-tree on the id for both), analysed
///   and then attached, exactly like ``RunWriter``'s partitions (attach takes SHARE UPDATE
///   EXCLUSIVE on the parent, never blocking readers).
/// - `latent.movie_embedding_search` and `latent.user_embedding_search`: views over the union of
///   the per-`k` parents, filtered on the vector-serving model's current run like the views of
///   migration 002, so ``RunSwitch``'s one UPDATE switches them too. Measured on PostgreSQL 16
///   with pgvector 0.6: `order by embedding <=> $1 limit 10` on the view plans as a Merge Append
///   of the partitions' HNSW index scans with the other runs pruned at execution time.
///
/// The views are (re)created only when a new dimension appears (a new parent), with a DROP and
/// CREATE in one statement under ``ShortLockDDL``'s lock timeout; publishing a run of a known
/// dimension never touches them. A parent left without partitions stays (empty, harmless).
///
/// User vectors get the `vector` column and a B-tree on `user_id` but no HNSW index by default:
/// the usual questions ("movies for this user", "users like this movie") search the movie side
/// or scan users, and an HNSW build costs about as much per row on users as on movies while
/// there are usually many more users (see ``indexesUsers``).
package struct VectorIndex {
    let connection: PostgresConnection
    let logger: Logger
    let runID: Int64
    let k: Int
    /// Whether the user partition also gets an HNSW (cosine) index.
    package var indexesUsers = false
    var ddl = ShortLockDDL()

    /// - Parameters:
    ///   - runID: the run whose `movie_vectors` / `user_vectors` partitions exist already.
    ///   - k: the run's vector length (0: a model without vectors, nothing to do).
    package init(connection: PostgresConnection, logger: Logger, runID: Int64, k: Int) {
        self.connection = connection
        self.logger = logger
        self.runID = runID
        self.k = k
    }

    /// The two sides that get embeddings.
    enum Side: String, CaseIterable {
        case movie, user

        var idColumn: String { "\(rawValue)_id" }
        /// The run table of migration 002 the embeddings are read from.
        var source: RunTable { self == .movie ? .movieVectors : .userVectors }
        /// The parent for dimension `k`.
        func parent(k: Int) -> String { "latent.\(rawValue)_embedding_index_k\(k)" }
        /// The run's partition name without the schema.
        func partitionName(_ runID: Int64) -> String { "\(rawValue)_embedding_index_r\(runID)" }
        /// The view readers query.
        var view: String { "latent.\(rawValue)_embedding_search" }
    }

    /// Whether this server and database can hold `vector` columns.
    package enum Availability: Equatable, Sendable {
        /// The extension is installed in this database (or was just installed).
        case installed
        /// The server has no pgvector (`pg_available_extensions`).
        case unavailable
        /// The server has pgvector but `create extension` failed (e.g. not a superuser).
        case notInstallable(String)
    }

    /// Adds the run's embedding partitions, indexes them and attaches them. Without pgvector it
    /// logs one line and leaves the run with `real[]` only; a run without vectors (k = 0) needs
    /// nothing. A failure here fails the publish like any other partition's (the run is then
    /// dropped whole).
    package func write() throws {
        guard k > 0 else { return }
        switch try Self.ensureExtension(on: connection) {
        case .installed:
            break
        case .unavailable:
            logger.info("pgvector is not available on this server: vectors are published as real[] only", metadata: ["run_id": "\(runID)"])
            return
        case .notInstallable(let why):
            logger.warning("pgvector is available but could not be installed: vectors are published as real[] only", metadata: [
                "run_id": "\(runID)", "error": "\(why)",
            ])
            return
        }
        for side in Side.allCases {
            try ensureParentAndView(side)
            try fill(side)
        }
    }

    /// Installs pgvector in the database when the server has it.
    static func ensureExtension(on connection: PostgresConnection) throws -> Availability {
        let found = try connection.execute("""
            select exists (select 1 from pg_available_extensions where name = 'vector'),
                   exists (select 1 from pg_extension where extname = 'vector')
            """)
        guard found[0, 0] == "t" else { return .unavailable }
        if found[0, 1] == "t" { return .installed }
        do {
            try connection.execute("create extension if not exists vector")
        } catch {
            return .notInstallable(error.message)
        }
        return .installed
    }

    private func ensureParentAndView(_ side: Side) throws {
        let present = try connection.query(
            "select to_regclass($1) is not null, to_regclass($2) is not null", [side.parent(k: k), side.view])
        if present[0, 0] == "t", present[0, 1] == "t" { return }
        try connection.execute("""
            create table if not exists \(side.parent(k: k)) (
                run_id bigint not null, \(side.idColumn) bigint not null, embedding vector(\(k)) not null
            ) partition by list (run_id)
            """)
        try recreateView(side)
    }

    /// The view over every per-dimension parent, in one statement (an implicit transaction), so
    /// readers see the old view or the new one.
    private func recreateView(_ side: Side) throws {
        let names = try connection.query(
            """
            select relname from pg_class where relnamespace = 'latent'::regnamespace and relkind = 'p'
            and relname ~ ('^' || $1 || '_embedding_index_k[0-9]+$')
            """, [side.rawValue])
        let prefix = "\(side.rawValue)_embedding_index_k"
        let dimensions = (0..<names.rowCount).compactMap { names[$0, 0].flatMap { Int($0.dropFirst(prefix.count)) } }.sorted()
        let union = dimensions.map { "select run_id, \(side.idColumn), embedding from \(side.parent(k: $0))" }
            .joined(separator: " union all ")
        let current = "(select c.run_id from latent.current_runs c join latent.serving s on s.model = c.model where s.purpose = 'vectors')"
        let body: String
        switch side {
        case .movie:
            body = """
                select e.movie_id, m.title, e.embedding, e.run_id from (\(union)) e
                left join latent.movies m on m.movie_id = e.movie_id where e.run_id = \(current)
                """
        case .user:
            body = "select e.user_id, e.embedding, e.run_id from (\(union)) e where e.run_id = \(current)"
        }
        try ddl.run(
            """
            drop view if exists \(side.view);
            create view \(side.view) as \(body);
            comment on view \(side.view) is 'pgvector embeddings of the model serving vectors (current run): order by embedding <=> $1 (cosine distance)';
            grant select on \(side.view) to latent_reader
            """, on: connection, logger: logger)
        logger.info("vector search view created", metadata: ["view": "\(side.view)", "dimensions": "\(dimensions)"])
    }

    private func fill(_ side: Side) throws {
        let partition = "latent.\(side.partitionName(runID))"
        try Self.drop(side, runID: runID, connection: connection, logger: logger, ddl: ddl)
        try connection.execute("create table \(partition) (like \(side.parent(k: k)) including defaults including constraints)")
        try connection.execute("alter table \(partition) add constraint \(side.partitionName(runID))_run check (run_id = \(runID))")
        let inserted = try connection.execute("""
            insert into \(partition) (run_id, \(side.idColumn), embedding)
            select run_id, \(side.idColumn), vector::vector(\(k)) from \(side.source.partition(runID))
            """)
        try connection.execute("create index on \(partition) (\(side.idColumn))")
        if side == .movie || indexesUsers {
            let started = Date()
            try connection.execute("create index on \(partition) using hnsw (embedding vector_cosine_ops)")
            logger.info("HNSW index built", metadata: [
                "partition": "\(partition)", "rows": "\(inserted.affectedRows)", "k": "\(k)",
                "seconds": "\(MetricText.fixed(Date().timeIntervalSince(started)))",
            ])
        }
        try connection.execute("analyze \(partition)")
        try ddl.run(
            "alter table \(side.parent(k: k)) attach partition \(partition) for values in (\(runID))",
            on: connection, logger: logger)
    }

    /// Drops run `runID`'s embedding partitions wherever they are attached (detached
    /// concurrently first, so readers of the parent never queue behind it). A no-op on a server
    /// without pgvector.
    package static func drop(runID: Int64, connection: PostgresConnection, logger: Logger) throws {
        for side in Side.allCases { try drop(side, runID: runID, connection: connection, logger: logger, ddl: ShortLockDDL()) }
    }

    private static func drop(_ side: Side, runID: Int64, connection: PostgresConnection, logger: Logger, ddl: ShortLockDDL) throws {
        let partition = "latent.\(side.partitionName(runID))"
        for _ in 0..<4 {
            // The parent's dimension is the typmod of its embedding column (vector(k) -> k).
            let state = try connection.query(
                """
                select i.inhrelid is not null, coalesce(i.inhdetachpending, false), a.atttypmod
                from pg_class c
                left join pg_inherits i on i.inhrelid = c.oid
                left join pg_attribute a on a.attrelid = i.inhparent and a.attname = 'embedding'
                where c.relname = $1 and c.relnamespace = 'latent'::regnamespace
                """, [side.partitionName(runID)])
            guard state.rowCount > 0 else { return }
            guard state[0, 0] == "t" else {
                try ddl.run("drop table \(partition)", on: connection, logger: logger)
                continue
            }
            guard let k = state[0, 2].flatMap({ Int($0) }), k > 0 else { throw PublishError.cleanupFailed(partition: partition) }
            let mode = state[0, 1] == "t" ? "finalize" : "concurrently"
            try ddl.run("alter table \(side.parent(k: k)) detach partition \(partition) \(mode)", on: connection, logger: logger)
        }
        throw PublishError.cleanupFailed(partition: partition)
    }
}
