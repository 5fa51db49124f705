import Foundation
@testable import Pipeline
import Postgres
import XCTest

/// pgvector embeddings beside the `real[]` vectors: on PostgreSQL 16 with pgvector (the
/// `pgserver` wheel, `ops/dev/pgvector`) and, without the extension, on the PostgreSQL 15 server.
final class VectorIndexTests: XCTestCase {
    private func vectorDatabase() throws -> LatentScratchDatabase {
        let url = try TestServers.url("LATENT_VECTOR_DATABASE_URL", startedBy: "ops/dev/pgvector")
        return try LatentScratchDatabase(self, serverURL: url)
    }

    func testNearestNeighboursByEmbeddingMatchTheCosineListsAndUseTheHNSWIndex() throws {
        let connection = try vectorDatabase().migrated()
        try PublishTests.seed(connection)
        let log = CapturedLog()
        let outcome = try Publisher(connection: connection, logger: log.logger()).publish(PublishTests.als(), settings: PublishTests.settings())
        XCTAssertEqual(outcome.status, .current)
        let run = outcome.runID
        XCTAssertEqual(log.lines(containing: "HNSW index built").count, 1, "one HNSW build (movies) per publish")

        let indexes = try connection.query(
            "select indexdef from pg_indexes where schemaname = 'latent' and tablename = $1 and indexdef like '%USING hnsw%'",
            ["movie_embedding_index_r\(run)"])
        XCTAssertEqual(indexes.rowCount, 1, "the run's movie partition has an HNSW index")
        XCTAssertTrue(indexes[0, 0]?.contains("vector_cosine_ops") ?? false, indexes[0, 0] ?? "")
        XCTAssertEqual(try connection.integer("select count(*) from latent.movie_embedding_search"), 150)
        XCTAssertEqual(try connection.integer("select count(*) from latent.user_embedding_search"), 120)
        XCTAssertEqual(try connection.integer("select count(distinct run_id) from latent.movie_embedding_search where run_id = \(run)"), 1)
        // The vector column holds exactly the real[] vector of the same run.
        XCTAssertEqual(try connection.integer("""
            select count(*) from latent.movie_embeddings v join latent.movie_embedding_search e using (movie_id)
            where e.embedding::real[] <> v.vector
            """), 0)

        // ef_search above the catalogue size: the graph search is then exhaustive on 150 movies.
        try connection.execute("set hnsw.ef_search = 200")
        for movie in [1, 42, 99, 150] as [Int64] {
            let nearest = try connection.query("""
                select movie_id, 1 - (embedding <=> (select embedding from latent.movie_embedding_search where movie_id = $1::bigint))
                from latent.movie_embedding_search where movie_id <> $1::bigint
                order by embedding <=> (select embedding from latent.movie_embedding_search where movie_id = $1::bigint) limit 10
                """, [String(movie)])
            let listed = try connection.query(
                "select similar_movie_id, similarity from latent.similar where movie_id = $1::bigint and measure = 'cosine' order by rank limit 10",
                [String(movie)])
            XCTAssertEqual(nearest.rowCount, 10)
            XCTAssertEqual(listed.rowCount, 10)
            try assertSameRanking(nearest, listed, movie: movie)
        }

        // The planner answers `order by embedding <=> $1 limit 10` on the view from the index
        // (sequential scans off: on 150 rows a sort is cheaper, which is not what is asked here).
        try connection.execute("set enable_seqscan = off")
        let plan = try connection.execute("""
            explain select movie_id from latent.movie_embedding_search
            order by embedding <=> (select embedding from latent.movie_embedding_search where movie_id = 1) limit 10
            """)
        let planText = (0..<plan.rowCount).compactMap { plan[$0, 0] }.joined(separator: "\n")
        XCTAssertTrue(planText.contains("Index Scan using movie_embedding_index_r\(run)_embedding_idx"), planText)
        try connection.execute("reset enable_seqscan")

        // The pgvector examples of sql/queries/ run here (as the owner and as latent_reader).
        let examples = try SQLQueriesTests.files().filter(\.needsPgvector)
        XCTAssertFalse(examples.isEmpty)
        for file in examples { try SQLQueriesTests.check(file, on: connection) }
    }

    func testRunsOfAnotherDimensionSwitchTheSearchViewAndOldRunsLoseTheirEmbeddings() throws {
        let connection = try vectorDatabase().migrated()
        try PublishTests.seed(connection)
        var settings = PublishTests.settings()
        settings.force = true
        let publisher = Publisher(connection: connection)
        let first = try publisher.publish(PublishTests.als(k: 8), settings: settings).runID
        let second = try publisher.publish(PublishTests.als(k: 12), settings: settings).runID
        XCTAssertEqual(try connection.integer("select min(vector_dims(embedding)) from latent.movie_embedding_search"), 12)
        XCTAssertEqual(try connection.integer("select count(distinct run_id) from latent.movie_embedding_search"), 1)
        XCTAssertEqual(try connection.query("select distinct run_id from latent.movie_embedding_search")[0, 0], String(second))

        // Rollback to the k = 8 run: the same view now shows its 8-dimensional embeddings.
        _ = try RunCatalog(connection: connection).promote(first, preferredServing: nil)
        XCTAssertEqual(try connection.integer("select max(vector_dims(embedding)) from latent.movie_embedding_search"), 8)
        XCTAssertEqual(try connection.query("select distinct run_id from latent.user_embedding_search")[0, 0], String(first))

        // Keep 2: a third run becomes current and the older of the two retired runs (the first)
        // loses its rows, its embedding partitions included.
        let third = try publisher.publish(PublishTests.als(k: 8), settings: settings).runID
        let partitions = try connection.execute("""
            select string_agg(relname, ',' order by relname) from pg_class
            where relnamespace = 'latent'::regnamespace and relkind = 'r' and relname like '%embedding_index_r%'
            """)
        let expected = [second, third].flatMap { ["movie_embedding_index_r\($0)", "user_embedding_index_r\($0)"] }.sorted()
        XCTAssertEqual(partitions[0, 0], expected.joined(separator: ","), "the dropped run's embedding partitions are gone")
        XCTAssertFalse(try RunRetention(connection: connection, logger: .init(label: "test")).hasRows(first))

        // Dropping a run by hand drops its embeddings too.
        try RunCatalog(connection: connection).drop(second)
        XCTAssertEqual(try connection.integer(
            "select count(*) from pg_class where relnamespace = 'latent'::regnamespace and relname like '%embedding_index_r\(second)'"), 0)
    }

    func testWithoutPgvectorRunsPublishRealArraysOnlyAndSaySoOnce() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        guard try connection.integer("select count(*) from pg_available_extensions where name = 'vector'") == 0 else {
            throw XCTSkip("the server of LATENT_TEST_DATABASE_URL has pgvector: this test needs one without it (Debian's PostgreSQL 15)")
        }
        try PublishTests.seed(connection)
        let log = CapturedLog()
        let publisher = Publisher(connection: connection, logger: log.logger())
        XCTAssertEqual(try publisher.publish(PublishTests.als(), settings: PublishTests.settings()).status, .current)
        XCTAssertEqual(log.lines(containing: "pgvector is not available").count, 1, "one line per publish")
        XCTAssertEqual(try connection.integer("select count(*) from latent.movie_embeddings"), 150, "real[] vectors published")
        XCTAssertEqual(try connection.integer("""
            select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid
            where c.relnamespace = 'latent'::regnamespace and a.attnum > 0 and format_type(a.atttypid, a.atttypmod) like 'vector%'
            """), 0, "no vector column")
        XCTAssertEqual(try connection.integer(
            "select count(*) from pg_class where relnamespace = 'latent'::regnamespace and relname like '%embedding_index%'"), 0)
        XCTAssertEqual(try connection.query("select to_regclass('latent.movie_embedding_search') is null")[0, 0], "t")

        var settings = PublishTests.settings()
        settings.force = true
        _ = try publisher.publish(.popularity, settings: settings)
        XCTAssertEqual(log.lines(containing: "pgvector is not available").count, 1, "a model without vectors needs no line")
        _ = try publisher.publish(PublishTests.als(), settings: settings)
        XCTAssertEqual(log.lines(containing: "pgvector is not available").count, 2)
    }

    /// The two top-10 lists rank the same similarities; the movies agree except among ties.
    private func assertSameRanking(_ nearest: PostgresResult, _ listed: PostgresResult, movie: Int64, file: StaticString = #filePath, line: UInt = #line) throws {
        func rows(_ r: PostgresResult) throws -> [(movie: Int64, similarity: Double)] {
            try (0..<r.rowCount).map { (try XCTUnwrap(r[$0, 0].flatMap { Int64($0) }), try XCTUnwrap(r[$0, 1].flatMap { Double($0) })) }
        }
        let a = try rows(nearest)
        let b = try rows(listed)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.similarity, y.similarity, accuracy: 1e-4, "movie \(movie): the same similarity at each rank", file: file, line: line)
        }
        // Movies clearly inside the top 10 (above the 10th similarity by more than rounding) must agree.
        let cutoff = min(a.last?.similarity ?? 0, b.last?.similarity ?? 0) + 1e-4
        XCTAssertEqual(
            Set(a.filter { $0.similarity > cutoff }.map(\.movie)), Set(b.filter { $0.similarity > cutoff }.map(\.movie)),
            "movie \(movie): the same neighbours", file: file, line: line)
    }
}
