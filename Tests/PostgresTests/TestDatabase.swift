import Foundation
import Postgres
import XCTest

/// The PostgreSQL the storage tests run against: `LATENT_TEST_DATABASE_URL`
/// (`ops/dev/postgres` starts one and prints the line to export).
enum TestDatabase {
    static var url: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["LATENT_TEST_DATABASE_URL"], !url.isEmpty else {
                let message = "LATENT_TEST_DATABASE_URL is not set: run ops/dev/postgres and export the LATENT_TEST_DATABASE_URL line it prints"
                XCTFail(message)
                throw PostgresError(kind: .connectionFailed, message: message)
            }
            return url
        }
    }

    static func connect() throws -> PostgresConnection {
        try PostgresConnection(url: url)
    }
}
