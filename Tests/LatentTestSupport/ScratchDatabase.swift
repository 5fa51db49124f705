import Foundation
import Postgres
import XCTest

/// A database of its own on the test server (`LATENT_TEST_DATABASE_URL`), dropped when the
/// test ends.
package final class ScratchDatabase: Sendable {
    /// A libpq URL that selects the scratch database.
    package let url: String
    /// The server's URL (`LATENT_TEST_DATABASE_URL`).
    package let serverURL: String
    package let name: String

    /// Creates the database; fails the test when `LATENT_TEST_DATABASE_URL` is not set.
    package init(_ test: XCTestCase, prefix: String = "latent_scratch") throws {
        guard let server = ProcessInfo.processInfo.environment["LATENT_TEST_DATABASE_URL"], !server.isEmpty else {
            let message = "LATENT_TEST_DATABASE_URL is not set: run ops/dev/postgres and export the LATENT_TEST_DATABASE_URL line it prints"
            XCTFail(message)
            throw PostgresError(kind: .connectionFailed, message: message)
        }
        let name = "\(prefix)_\(getpid())_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = try PostgresConnection(url: server)
        defer { admin.close() }
        try admin.execute("create database \(name)")
        guard var components = URLComponents(string: server) else { throw URLError(.badURL) }
        components.path = "/" + name
        guard let url = components.string else { throw URLError(.badURL) }
        self.url = url
        self.serverURL = server
        self.name = name
        test.addTeardownBlock {
            let admin = try PostgresConnection(url: server)
            defer { admin.close() }
            try admin.execute("drop database if exists \(name) with (force)")
        }
    }
}
