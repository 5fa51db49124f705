import Foundation
@testable import Pipeline
import Postgres
import XCTest

/// Every file in sql/queries/ runs against a published database, so the worked examples can
/// never drift from the schema.
final class SQLQueriesTests: XCTestCase {
    /// The examples written for downstream readers: they read the views only, so they must run
    /// as `latent_reader` too.
    static let readerFiles: Set<String> = [
        "top10_for_user.sql", "movies_like_toy_story.sql", "genres_for_user.sql", "users_drawn_to_genre.sql",
        "freshness.sql", "nearest_movies_pgvector.sql",
    ]

    /// A file of sql/queries/.
    struct QueryFile {
        var name: String
        var sql: String
        /// First line `-- requires: pgvector`: runs only where the server has pgvector.
        var needsPgvector: Bool { sql.hasPrefix("-- requires: pgvector") }
    }

    static func files() throws -> [QueryFile] {
        let folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql/queries")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        return try names.map { QueryFile(name: $0, sql: try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8)) }
    }

    /// Runs `file` (as the connection's user, then as `latent_reader` for the reader examples)
    /// and checks that a reader example whose last statement returns rows returns some (the
    /// operators' files may rightly find nothing, e.g. no ingest in a published test database).
    static func check(_ file: QueryFile, on connection: PostgresConnection, file path: StaticString = #filePath, line: UInt = #line) throws {
        for role in readerFiles.contains(file.name) ? [nil, "latent_reader"] : [nil] {
            if let role { try connection.execute("set role \(role)") }
            defer { if role != nil { _ = try? connection.execute("reset role") } }
            do {
                let result = try connection.execute(file.sql)
                if result.columnCount > 0, readerFiles.contains(file.name) {
                    XCTAssertGreaterThan(result.rowCount, 0, "\(file.name) as \(role ?? "owner") returned no rows", file: path, line: line)
                }
            } catch {
                XCTFail("\(file.name) as \(role ?? "owner") failed: \(error)", file: path, line: line)
                if connection.isConnected { _ = try? connection.execute("rollback") }
            }
        }
    }

    func testEveryQueryRunsAgainstAPublishedDatabase() throws {
        let connection = try LatentScratchDatabase(self).migrated()
        try PublishTests.seed(connection)
        let outcome = try Publisher(connection: connection).publish(PublishTests.als(), settings: PublishTests.settings())
        XCTAssertEqual(outcome.status, .current)

        let files = try Self.files()
        XCTAssertTrue(Self.readerFiles.isSubset(of: Set(files.map(\.name))), "a reader example is missing from sql/queries/")
        for file in files {
            XCTAssertTrue(file.sql.hasPrefix("--"), "\(file.name) starts with a comment saying what it answers")
            if file.needsPgvector { continue }  // VectorIndexTests runs these on the pgvector server
            try Self.check(file, on: connection)
        }
        // The multi-statement read left no transaction open.
        XCTAssertEqual(try connection.execute("select now() = statement_timestamp()")[0, 0], "t")
    }
}
