import ArgumentParser
import Pipeline

/// `latent migrate`: creates or updates the `latent` schema.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the latent schema in PostgreSQL (idempotent; safe to run concurrently).")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try database.connect()
        defer { connection.close() }
        let report = try MigrationRunner(connection: connection).migrate()
        for migration in report.applied {
            print("applied \(migration.version) \(migration.name)")
        }
        if report.applied.isEmpty {
            let versions = report.alreadyApplied.map(String.init).joined(separator: ", ")
            print("schema up to date (applied versions: \(versions))")
        }
        if !report.unknownToThisBuild.isEmpty {
            print("note: the database also has versions \(report.unknownToThisBuild) that this build does not know")
        }
    }
}
