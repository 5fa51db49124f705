import ArgumentParser
import Dispatch
import Foundation
import Logging
import Pipeline

/// `latent ingest`: consume rating and movie events into PostgreSQL, exactly once.
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Consume rating and movie events from Kafka into PostgreSQL, exactly once.",
        discussion: """
            Each batch is one PostgreSQL transaction holding the ratings (merged by ts: the newest \
            event per user and movie wins), the movies, the rejected events (latent.rejected_events, \
            with a reason) and the next Kafka offsets; partitions restart from those stored offsets, \
            so a crash at any instant neither loses nor duplicates an event. SIGTERM/SIGINT finish \
            and commit the batch in flight, then exit 0 (a second signal gives up a batch that cannot \
            be written). While PostgreSQL is unavailable the batch is retried with back-off and \
            fetching pauses.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var kafka: KafkaOptions

    @Flag(name: .customLong("until-caught-up"),
          help: "Exit 0 once every assigned partition is at its high watermark (batch runs, demo, tests).")
    var untilCaughtUp = false

    @Option(name: .customLong("batch-size"), help: "Write a batch once it holds this many events.")
    var batchSize = 50_000

    @Option(name: .customLong("batch-delay-ms"), help: "Write a batch once its first event is this old (milliseconds).")
    var batchDelayMilliseconds = 200

    @Option(help: "Parallel PostgreSQL writers; partition p of a topic is always written by writer p % N.")
    var writers = 2

    @Option(name: .customLong("metrics-port"),
            help: "Serve Prometheus metrics on HOST:PORT/metrics (default: $LATENT_METRICS_PORT; 0 or unset: off).")
    var metricsPort: Int?

    @Option(name: .customLong("metrics-host"),
            help: ArgumentHelp("IPv4 address the metrics endpoint binds to; 0.0.0.0 for every interface, as a container needs "
                               + "(default: $LATENT_METRICS_HOST, else 127.0.0.1).", valueName: "address"))
    var metricsHost: String?

    /// The metrics port from the flag, else `LATENT_METRICS_PORT`, else 0 (off).
    var resolvedMetricsPort: Int {
        get throws {
            if let metricsPort { return metricsPort }
            guard let text = ProcessInfo.processInfo.environment["LATENT_METRICS_PORT"], !text.isEmpty else { return 0 }
            guard let port = Int(text) else { throw ValidationError("LATENT_METRICS_PORT must be a port number, got \"\(text)\"") }
            return port
        }
    }

    /// The metrics address from the flag, else `LATENT_METRICS_HOST`, else 127.0.0.1.
    var resolvedMetricsHost: String {
        if let metricsHost { return metricsHost }
        if let host = ProcessInfo.processInfo.environment["LATENT_METRICS_HOST"], !host.isEmpty { return host }
        return "127.0.0.1"
    }

    func validate() throws {
        let port = try resolvedMetricsPort
        guard (0...65_535).contains(port) else {
            throw ValidationError("--metrics-port / LATENT_METRICS_PORT must be between 0 and 65535, got \(port)")
        }
        guard MetricsEndpoint.isIPv4Address(resolvedMetricsHost) else {
            throw ValidationError("--metrics-host / LATENT_METRICS_HOST must be an IPv4 address such as 0.0.0.0, got \"\(resolvedMetricsHost)\"")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard (1...16).contains(writers) else { throw ValidationError("--writers must be between 1 and 16, got \(writers)") }
        guard batchDelayMilliseconds > 0 else { throw ValidationError("--batch-delay-ms must be positive, got \(batchDelayMilliseconds)") }
        guard kafka.ratingsTopic != kafka.moviesTopic else {
            throw ValidationError("the ratings and movies topics must differ (both are \"\(kafka.ratingsTopic)\")")
        }
    }

    func run() throws {
        let logger = Logger(label: "latent.ingest")
        let stop = IngestStop()
        // Ignore the default handlers so that the dispatch sources receive the signals.
        let signalQueue = DispatchQueue(label: "latent.ingest.signals")
        let sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: signalQueue)
            source.setEventHandler {
                let first = !stop.isRequested
                stop.request()
                if first {
                    logger.info("stop requested: finishing the batch in flight (signal again to give it up)")
                } else {
                    logger.warning("stop forced")
                }
            }
            source.resume()
            return source
        }
        defer { withExtendedLifetime(sources) {} }

        let port = try resolvedMetricsPort
        if port > 0 {
            let registry = MetricsEndpoint.bootstrap()
            try MetricsEndpoint.serve(registry, host: resolvedMetricsHost, port: port, logger: logger)
        }

        guard let url = database.url else { throw ValidationError("no database given: pass --database-url or set LATENT_DATABASE_URL") }
        var configuration = IngestConfiguration(
            kafkaOptions: kafka.librdkafkaOptions(), ratingsTopic: kafka.ratingsTopic, moviesTopic: kafka.moviesTopic,
            consumerGroup: kafka.consumerGroup, databaseURL: url)
        configuration.maxBatchEvents = batchSize
        configuration.maxBatchDelay = Double(batchDelayMilliseconds) / 1000
        configuration.untilCaughtUp = untilCaughtUp
        configuration.writers = writers
        logger.info("connecting", metadata: ["kafka": "\(kafka.redactedDescription)"])

        let summary = try IngestRunner(configuration: configuration, stop: stop, logger: logger).run()
        print("ingest: \(summary)")
    }
}
