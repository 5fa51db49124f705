import Foundation
import Pipeline
import Postgres
import XCTest

/// A throw-away database on the test server (`LATENT_TEST_DATABASE_URL`), dropped at teardown,
/// so storage tests never see each other's rows, even when run concurrently.
final class LatentScratchDatabase {
    let serverURL: String
    let name: String

    private static let counter = LockedCounter()

    convenience init(_ test: XCTestCase) throws {
        guard let url = ProcessInfo.processInfo.environment["LATENT_TEST_DATABASE_URL"], !url.isEmpty else {
            let message = "LATENT_TEST_DATABASE_URL is not set: run ops/dev/postgres and export the LATENT_TEST_DATABASE_URL line it prints"
            XCTFail(message)
            throw PostgresError(kind: .connectionFailed, message: message)
        }
        try self.init(test, serverURL: url)
    }

    /// A scratch database on the server of `url` (e.g. the pgvector server).
    init(_ test: XCTestCase, serverURL url: String) throws {
        serverURL = url
        name = "latent_scratch_\(getpid())_\(Self.counter.next())"
        let admin = try PostgresConnection(url: url)
        try admin.execute("drop database if exists \(name) with (force)")
        try admin.execute("create database \(name)")
        let name = self.name
        test.addTeardownBlock {
            let admin = try PostgresConnection(url: url)
            try admin.execute("drop database if exists \(name) with (force)")
        }
    }

    func connect() throws -> PostgresConnection {
        try PostgresConnection(url: serverURL, database: name)
    }

    /// A connection to a migrated scratch database.
    func migrated() throws -> PostgresConnection {
        let connection = try connect()
        try MigrationRunner(connection: connection).migrate()
        return connection
    }
}

final class MigrationTests: XCTestCase {
    func testEmbeddedMigrationsParseInOrder() throws {
        let migrations = try Migrations.all
        XCTAssertFalse(migrations.isEmpty)
        XCTAssertEqual(migrations.first?.version, 1)
        XCTAssertEqual(migrations.first?.name, "schema")
        XCTAssertEqual(migrations.map(\.version), migrations.map(\.version).sorted())
        XCTAssertEqual(Set(migrations.map(\.version)).count, migrations.count)
    }

    func testFileNamesAreValidated() throws {
        XCTAssertEqual(try Migration(fileName: "012_add_things.sql", sql: "").version, 12)
        XCTAssertEqual(try Migration(fileName: "012_add_things.sql", sql: "").name, "add_things")
        for bad in ["schema.sql", "001schema.sql", "001_.sql", "abc_schema.sql", "000_zero.sql", "001_schema.txt"] {
            XCTAssertThrowsError(try Migration(fileName: bad, sql: ""), bad)
        }
        let sameVersion = [try Migration(fileName: "001_a.sql", sql: ""), try Migration(fileName: "001_b.sql", sql: "")]
        XCTAssertThrowsError(try Migrations.ordered(sameVersion))
    }

    func testMigrateTwiceIsIdempotent() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.connect()
        let runner = try MigrationRunner(connection: connection)
        XCTAssertEqual(try runner.appliedVersions(), [])
        let first = try runner.migrate()
        XCTAssertEqual(first.applied.map(\.version), try Migrations.all.map(\.version))
        XCTAssertEqual(first.alreadyApplied, [])
        let second = try runner.migrate()
        XCTAssertEqual(second.applied, [])
        XCTAssertEqual(second.alreadyApplied, try Migrations.all.map(\.version))
        XCTAssertEqual(try runner.appliedVersions(), try Migrations.all.map(\.version))
        let recorded = try connection.execute("select count(*), string_agg(name, ',' order by version) from latent.schema_migrations")
        XCTAssertEqual(recorded[0, 0], String(try Migrations.all.count))
        XCTAssertEqual(recorded[0, 1], try Migrations.all.map(\.name).joined(separator: ","))
        // A fresh connection (another process) also finds nothing to do.
        XCTAssertEqual(try MigrationRunner(connection: database.connect()).migrate().applied, [])
    }

    func testConcurrentMigrationsAreSerialised() throws {
        let database = try LatentScratchDatabase(self)
        let connections = try (0..<3).map { _ in try database.connect() }
        let outcomes = Outcomes()
        DispatchQueue.concurrentPerform(iterations: connections.count) { i in
            do {
                let report = try MigrationRunner(connection: connections[i]).migrate()
                outcomes.record(applied: report.applied.count)
            } catch {
                outcomes.record(error: error)
            }
        }
        XCTAssertEqual(outcomes.errors, [])
        XCTAssertEqual(outcomes.applied.sorted(), [0, 0, try Migrations.all.count], "exactly one runner applies")
        XCTAssertEqual(try connections[0].execute("select count(*) from latent.schema_migrations")[0, 0], String(try Migrations.all.count))
    }

    func testFailingMigrationIsRolledBackAndNotRecorded() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.connect()
        let migrations = try Migrations.all + [
            Migration(fileName: "900_half_done.sql", sql: "create table latent.half (id int); select 1/0;"),
        ]
        XCTAssertThrowsError(try MigrationRunner(connection: connection, migrations: migrations).migrate()) { error in
            let failure = error as? MigrationFailure
            XCTAssertEqual(failure?.migration.version, 900)
            XCTAssertTrue("\(error)".contains("half_done"), "\(error)")
            XCTAssertTrue("\(error)".contains("22012"), "the SQLSTATE (division by zero) is shown: \(error)")
        }
        XCTAssertEqual(try connection.execute("select to_regclass('latent.half') is null")[0, 0], "t")
        XCTAssertEqual(try MigrationRunner(connection: connection).appliedVersions(), try Migrations.all.map(\.version))
        // Fixed, it applies on the next run.
        let fixed = try Migrations.all + [Migration(fileName: "900_half_done.sql", sql: "create table latent.half (id int)")]
        XCTAssertEqual(try MigrationRunner(connection: connection, migrations: fixed).migrate().applied.map(\.version), [900])
    }

    /// The contract the ingest code and downstream readers are written against: table, view and
    /// column names, types, nullability.
    func testSchemaMatchesTheContract() throws {
        let database = try LatentScratchDatabase(self)
        let connection = try database.migrated()
        let expected: [String: [String]] = [
            "schema_migrations": ["version integer NO", "name text NO", "applied_at timestamp with time zone NO"],
            "ratings": ["user_id bigint NO", "movie_id bigint NO", "rating real NO", "rated_at timestamp with time zone NO"],
            "rating_tombstones": ["user_id bigint NO", "movie_id bigint NO", "retracted_at timestamp with time zone NO"],
            "movies": ["movie_id bigint NO", "title text NO", "genres ARRAY NO", "updated_at timestamp with time zone NO"],
            "rejected_events": [
                "id bigint NO", "topic text NO", "partition integer NO", "offset bigint NO", "key bytea YES",
                "payload bytea NO", "reason text NO", "received_at timestamp with time zone NO",
            ],
            "consumer_offsets": [
                "consumer_group text NO", "topic text NO", "partition integer NO", "next_offset bigint NO",
                "updated_at timestamp with time zone NO",
            ],
            "model_runs": [
                "run_id bigint NO", "model text NO", "parameters jsonb NO", "ratings_count bigint YES",
                "users_count integer YES", "movies_count integer YES", "metrics jsonb YES", "durations jsonb YES",
                "started_at timestamp with time zone NO", "finished_at timestamp with time zone YES", "status text NO",
                "newest_rated_at timestamp with time zone YES", "dimensions integer YES", "global_mean real YES",
                "reason text YES", "published_at timestamp with time zone YES",
            ],
            "current_runs": ["model text NO", "run_id bigint NO", "switched_at timestamp with time zone NO"],
            "serving": ["purpose text NO", "model text NO", "reason text NO", "chosen_at timestamp with time zone NO"],
            "excluded_movies": ["movie_id bigint NO", "reason text NO", "excluded_at timestamp with time zone NO"],
            "retrain_requests": [
                "request_id bigint NO", "requested_at timestamp with time zone NO", "requested_by text NO",
                "taken_at timestamp with time zone YES", "taken_by text YES",
            ],
            "model_files": ["run_id bigint NO", "bytes bytea NO"],
            "user_recommendations": ["run_id bigint NO", "user_id bigint NO", "rank integer NO", "movie_id bigint NO", "score real NO"],
            "similar_movies": [
                "run_id bigint NO", "movie_id bigint NO", "measure text NO", "rank integer NO", "similar_movie_id bigint NO",
                "similarity real NO",
            ],
            "genre_vectors": ["run_id bigint NO", "genre text NO", "vector ARRAY NO", "source text NO"],
            "movie_vectors": ["run_id bigint NO", "movie_id bigint NO", "vector ARRAY NO", "bias real NO"],
            "user_vectors": ["run_id bigint NO", "user_id bigint NO", "vector ARRAY NO", "bias real NO"],
            // The views downstream SQL reads.
            "recommendations": ["user_id bigint YES", "rank integer YES", "movie_id bigint YES", "title text YES", "score real YES", "run_id bigint YES"],
            "model_recommendations": [
                "model text YES", "user_id bigint YES", "rank integer YES", "movie_id bigint YES", "title text YES",
                "score real YES", "run_id bigint YES",
            ],
            "similar": [
                "movie_id bigint YES", "title text YES", "measure text YES", "rank integer YES", "similar_movie_id bigint YES",
                "similar_title text YES", "similarity real YES", "run_id bigint YES",
            ],
            "genre_features": ["genre text YES", "vector ARRAY YES", "source text YES", "run_id bigint YES"],
            "movie_embeddings": ["movie_id bigint YES", "title text YES", "vector ARRAY YES", "bias real YES", "run_id bigint YES"],
            "user_embeddings": ["user_id bigint YES", "vector ARRAY YES", "bias real YES", "run_id bigint YES"],
            "current_models": [
                "model text YES", "run_id bigint YES", "switched_at timestamp with time zone YES",
                "trained_at timestamp with time zone YES", "newest_rated_at timestamp with time zone YES",
                "ratings_count bigint YES", "users_count integer YES", "movies_count integer YES", "metrics jsonb YES",
                "dimensions integer YES", "global_mean real YES", "serves_lists boolean YES", "serves_vectors boolean YES",
            ],
        ]
        let rows = try connection.execute("""
            select table_name, column_name || ' ' || data_type || ' ' || is_nullable
            from information_schema.columns where table_schema = 'latent' order by table_name, ordinal_position
            """)
        var actual: [String: [String]] = [:]
        for row in 0..<rows.rowCount {
            actual[rows[row, 0] ?? "", default: []].append(rows[row, 1] ?? "")
        }
        XCTAssertEqual(actual, expected)

        let keys = try connection.execute("""
            select c.conrelid::regclass::text || ' ' || c.contype::text || ' ' ||
                   (select string_agg(a.attname, ',' order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum)
            from pg_constraint c join pg_namespace n on n.oid = c.connamespace
            where n.nspname = 'latent' and c.contype in ('p', 'u') order by 1
            """)
        let constraints = (0..<keys.rowCount).compactMap { keys[$0, 0] }
        XCTAssertEqual(constraints, [
            "latent.consumer_offsets p consumer_group,topic,partition",
            "latent.current_runs p model",
            "latent.current_runs u run_id",
            "latent.excluded_movies p movie_id",
            "latent.model_files p run_id",
            "latent.model_runs p run_id",
            "latent.movies p movie_id",
            "latent.rating_tombstones p user_id,movie_id",
            "latent.ratings p user_id,movie_id",
            "latent.rejected_events p id",
            "latent.rejected_events u topic,partition,offset",
            "latent.retrain_requests p request_id",
            "latent.schema_migrations p version",
            "latent.serving p purpose",
        ])
        // Defaults the ingest relies on.
        try connection.execute("""
            insert into latent.movies (movie_id, title) values (1, 'Toy Story (1995)');
            insert into latent.rejected_events (topic, partition, "offset", payload, reason) values ('ratings', 0, 7, '\\xff', 'bad');
            insert into latent.consumer_offsets (consumer_group, topic, partition, next_offset) values ('g', 'ratings', 0, 8);
            """)
        XCTAssertEqual(try connection.execute("select genres = '{}' from latent.movies")[0, 0], "t")
        XCTAssertEqual(try connection.execute("select id from latent.rejected_events")[0, 0], "1")
    }

    /// `sql/migrations/` is the canonical copy; the binary embeds it (`.embedInCode`) and
    /// `Migrations.embeddedFiles` names every file.
    func testEmbeddedMigrationsMatchTheSQLFolder() throws {
        let folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql/migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        let hint = "sql/migrations/ and Migrations.embeddedFiles (Sources/Pipeline/Migrations.swift) differ: add a line for each new file"
        XCTAssertEqual(files, Migrations.embeddedFiles.map(\.fileName), hint)
        for (name, sql) in Migrations.embeddedFiles where files.contains(name) {
            let onDisk = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            XCTAssertEqual(sql, onDisk, "\(name): \(hint)")
        }
    }
}

private final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var applied: [Int] = []
    private(set) var errors: [String] = []

    func record(applied count: Int) {
        lock.lock()
        applied.append(count)
        lock.unlock()
    }

    func record(error: any Error) {
        lock.lock()
        errors.append("\(error)")
        lock.unlock()
    }
}
