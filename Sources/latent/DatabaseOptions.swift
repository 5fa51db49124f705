import ArgumentParser
import Foundation
import Postgres

/// `--database-url`, defaulting to `LATENT_DATABASE_URL`: shared by every command that talks
/// to PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL libpq URL or conninfo (default: $LATENT_DATABASE_URL).",
            valueName: "url"))
    var databaseURL: String?

    /// The URL from the flag, else from the environment.
    var url: String? {
        if let databaseURL, !databaseURL.isEmpty { return databaseURL }
        if let url = ProcessInfo.processInfo.environment["LATENT_DATABASE_URL"], !url.isEmpty { return url }
        return nil
    }

    static let missingMessage = "no database given: pass --database-url or set LATENT_DATABASE_URL "
        + "(e.g. postgresql://postgres@127.0.0.1:54329/latent; ops/dev/postgres starts a local one)"

    /// Fails with a clear message when no URL is given. Not `validate()`: commands whose
    /// database is optional (train from files, recommend) embed these options too.
    func requireURL() throws {
        guard url != nil else { throw ValidationError(Self.missingMessage) }
    }

    /// Opens a connection (errors never show the password).
    func connect() throws -> PostgresConnection {
        guard let url else { throw ValidationError(Self.missingMessage) }
        return try PostgresConnection(url: url)
    }
}
