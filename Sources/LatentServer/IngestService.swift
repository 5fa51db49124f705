import Ingest
import Logging
import Pipeline
import ServiceLifecycle

/// The Kafka → PostgreSQL consumer as a service: graceful shutdown finishes and commits the
/// batch in flight (``IngestStop``), then the service returns; cancellation of the service's
/// task forces the stop (a batch that cannot be written is given up and read again next time).
public struct IngestService: Service {
    let configuration: IngestConfiguration
    let health: ServerHealth
    let logger: Logger
    let stop: IngestStop
    let onStopped: (@Sendable (IngestSummary) -> Void)?

    /// - Parameters:
    ///   - stop: the stop request the runner polls; pass your own to force it from elsewhere
    ///     (``StopEscalation`` does on a second signal).
    ///   - onStopped: called with the run's summary when the runner returns normally.
    public init(
        configuration: IngestConfiguration, health: ServerHealth, logger: Logger = Logger(label: "latent.ingest"),
        stop: IngestStop = IngestStop(), onStopped: (@Sendable (IngestSummary) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.health = health
        self.logger = logger
        self.stop = stop
        self.onStopped = onStopped
    }

    public func run() async throws {
        let configuration = self.configuration, logger = self.logger, stop = self.stop
        health.ingestStarted()
        do {
            let summary = try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await BlockingWork.runOnThread(named: "latent.ingest") {
                        try IngestRunner(configuration: configuration, stop: stop, logger: logger).run()
                    }
                } onGracefulShutdown: {
                    logger.info("stop requested: finishing the batch in flight")
                    stop.request()
                }
            } onCancel: {
                stop.force()
            }
            health.ingestEnded("stopped")
            logger.info("ingest stopped", metadata: ["summary": "\(summary)"])
            onStopped?(summary)
        } catch {
            health.ingestEnded("failed: \(error)")
            throw error
        }
    }
}
