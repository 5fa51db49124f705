import Logging
import Pipeline
import ServiceLifecycle

/// The Kafka → PostgreSQL consumer as a service: graceful shutdown finishes and commits the
/// batch in flight (``IngestStop``), then the service returns.
public struct IngestService: Service {
    let configuration: IngestConfiguration
    let health: ServerHealth
    let logger: Logger

    public init(configuration: IngestConfiguration, health: ServerHealth, logger: Logger = Logger(label: "latent.ingest")) {
        self.configuration = configuration
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        let stop = IngestStop()
        let configuration = self.configuration, logger = self.logger
        health.ingestStarted()
        do {
            let summary = try await withGracefulShutdownHandler {
                try await BlockingWork.runOnThread(named: "latent.ingest") {
                    try IngestRunner(configuration: configuration, stop: stop, logger: logger).run()
                }
            } onGracefulShutdown: {
                logger.info("stop requested: finishing the batch in flight")
                stop.request()
            }
            health.ingestEnded("stopped")
            logger.info("ingest stopped", metadata: ["summary": "\(summary)"])
        } catch {
            health.ingestEnded("failed: \(error)")
            throw error
        }
    }
}
