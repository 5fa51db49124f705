import Logging
import Postgres

/// Brings a database's `latent` schema up to date.
///
/// Applies every migration that is not yet recorded in `latent.schema_migrations`, in version
/// order, each in its own transaction together with its `schema_migrations` row: a migration is
/// either fully applied and recorded, or not at all. Running it again does nothing. A session-level
/// advisory lock serialises concurrent runners (two `latent migrate` at once, or several service
/// replicas starting together): the second waits, then finds everything applied.
package struct MigrationRunner {
    /// The `pg_advisory_lock` key: "latent" in ASCII, then 01.
    package static let advisoryLockKey: Int64 = 0x6C61_7465_6E74_01

    private let connection: PostgresConnection
    private let migrations: [Migration]
    private let logger: Logger

    /// - Parameters:
    ///   - connection: used exclusively by the runner while it runs; must not be in a transaction.
    ///   - migrations: defaults to the migrations embedded in this build.
    package init(
        connection: PostgresConnection, migrations: [Migration]? = nil,
        logger: Logger = Logger(label: "latent.migrate")
    ) throws {
        self.connection = connection
        self.migrations = try migrations.map { ms throws(MigrationError) in try Migrations.ordered(ms) } ?? Migrations.all
        self.logger = logger
    }

    /// Versions recorded in `latent.schema_migrations` (empty for a fresh database).
    package func appliedVersions() throws -> [Int] {
        let exists = try connection.execute("select to_regclass('latent.schema_migrations') is not null")
        guard exists[0, 0] == "t" else { return [] }
        let rows = try connection.execute("select version from latent.schema_migrations order by version")
        return (0..<rows.rowCount).compactMap { rows[$0, 0].flatMap { Int($0) } }
    }

    /// Applies the pending migrations.
    @discardableResult
    package func migrate() throws -> MigrationReport {
        let key = String(Self.advisoryLockKey)
        if try connection.execute("select pg_try_advisory_lock(\(key))")[0, 0] != "t" {
            logger.info("another migration holds the lock; waiting for it to finish")
            try connection.execute("select pg_advisory_lock(\(key))")
        }
        defer {
            if connection.isConnected { _ = try? connection.execute("select pg_advisory_unlock(\(key))") }
        }

        let applied = Set(try appliedVersions())
        var report = MigrationReport(
            applied: [],
            alreadyApplied: migrations.map(\.version).filter(applied.contains),
            unknownToThisBuild: applied.subtracting(migrations.map(\.version)).sorted())
        if !report.unknownToThisBuild.isEmpty {
            logger.warning(
                "the database has migrations this build does not know (a newer latent applied them)",
                metadata: ["versions": "\(report.unknownToThisBuild)"])
        }
        for migration in migrations where !applied.contains(migration.version) {
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            do {
                try connection.transaction {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "insert into latent.schema_migrations (version, name) values ($1::int, $2)",
                        [String(migration.version), migration.name])
                }
            } catch {
                throw MigrationFailure(migration: migration, underlying: error)
            }
            report.applied.append(migration)
        }
        return report
    }
}

/// What ``MigrationRunner/migrate()`` did.
package struct MigrationReport: Sendable {
    /// Migrations applied by this run, in order.
    package var applied: [Migration]
    /// Versions that were already applied before this run.
    package var alreadyApplied: [Int]
    /// Versions recorded in the database that this build does not contain.
    package var unknownToThisBuild: [Int]
}

/// A migration whose SQL failed; nothing of it was applied.
package struct MigrationFailure: Error, CustomStringConvertible {
    package let migration: Migration
    package let underlying: any Error

    package var description: String {
        "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(underlying)"
    }
}
