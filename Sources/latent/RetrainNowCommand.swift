import ArgumentParser
import Foundation
import Pipeline

/// `latent retrain-now`: asks the running `latent serve` instances for a training cycle now.
struct RetrainNowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain-now",
        abstract: "Queue a training cycle for the running latent serve instances (one of them takes it within seconds).",
        discussion: """
            The request goes into latent.retrain_requests; the scheduler of whichever instance polls \
            first runs every model of its LATENT_TRAIN_MODELS and publishes them, exactly as the \
            nightly schedule does. Without a running serve, use latent publish instead.
            """)

    @OptionGroup var database: DatabaseOptions

    func validate() throws { try database.requireURL() }

    func run() throws {
        let connection = try database.connect()
        defer { connection.close() }
        let id = try RetrainRequests(connection: connection).request(by: "latent retrain-now")
        print("retrain request \(id) queued")
    }
}
