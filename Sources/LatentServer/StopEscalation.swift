import Ingest
import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

/// Forces an ingest stop on the second termination signal.
///
/// The ``ServiceGroup`` turns the first SIGTERM/SIGINT into a graceful shutdown (``IngestService``
/// finishes and commits the batch in flight) and ignores later ones; an operator who signals
/// again, typically because PostgreSQL is down and the batch cannot be written, wants the
/// process to give up that batch (it is read again next time) and exit. This service counts
/// the signals and forces ``IngestStop`` on the second.
///
/// Put it first in the group's services: a group shuts its services down in reverse order, so
/// it keeps listening until the ingest service has returned.
public struct StopEscalation: Service {
    let stop: IngestStop
    let signals: [UnixSignal]
    let logger: Logger

    public init(stop: IngestStop, signals: [UnixSignal] = [.sigterm, .sigint], logger: Logger = Logger(label: "latent.ingest")) {
        self.stop = stop
        self.signals = signals
        self.logger = logger
    }

    public func run() async throws {
        var received = 0
        for await signal in await UnixSignalsSequence(trapping: signals).cancelOnGracefulShutdown() {
            received += 1
            if received == 1 {
                logger.info("signal again to give up the batch in flight", metadata: ["signal": "\(signal)"])
            } else {
                logger.warning("stop forced", metadata: ["signal": "\(signal)"])
                stop.force()
            }
        }
    }
}
