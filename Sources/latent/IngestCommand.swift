import Ingest
import ArgumentParser
import Foundation
import LatentServer
import Logging
import Metrics
import Pipeline
import Prometheus
import ServiceLifecycle

/// `latent ingest`: consume rating and movie events into PostgreSQL, exactly once.
struct IngestCommand: AsyncParsableCommand {
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

    /// The topics are checked by ``KafkaTopicOptions`` (names, and that they differ).
    func validate() throws {
        let port = try resolvedMetricsPort
        guard (0...65_535).contains(port) else {
            throw ValidationError("--metrics-port / LATENT_METRICS_PORT must be between 0 and 65535, got \(port)")
        }
        guard Self.isIPv4Address(resolvedMetricsHost) else {
            throw ValidationError("--metrics-host / LATENT_METRICS_HOST must be an IPv4 address such as 0.0.0.0, got \"\(resolvedMetricsHost)\"")
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard (1...16).contains(writers) else { throw ValidationError("--writers must be between 1 and 16, got \(writers)") }
        guard batchDelayMilliseconds > 0 else { throw ValidationError("--batch-delay-ms must be positive, got \(batchDelayMilliseconds)") }
    }

    func run() async throws {
        let logger = Logger(label: "latent.ingest")
        guard let url = database.url else { throw ValidationError(DatabaseOptions.missingMessage) }
        let stop = IngestStop()
        let ingest = IngestService(
            configuration: ingestConfiguration(databaseURL: url), health: ServerHealth(), logger: logger, stop: stop,
            onStopped: { summary in print("ingest: \(summary)") })
        // A group shuts its services down in reverse order: ingest drains first, the metrics
        // endpoint answers until it has, and the second-signal watch outlives both.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: StopEscalation(stop: stop, logger: logger))]
        if let metrics = try metricsService(logger: logger) { services.append(.init(service: metrics)) }
        services.append(.init(service: ingest, successTerminationBehavior: .gracefullyShutdownGroup))
        logger.info("connecting", metadata: ["kafka": "\(kafka.redactedDescription)"])
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch where "\(error)".contains("Address already in use") {
            throw CommandFailure("cannot serve metrics on \(resolvedMetricsHost):\(try resolvedMetricsPort): the address is already in use "
                                 + "(set --metrics-port or LATENT_METRICS_PORT)")
        }
    }

    /// What the runner needs, from the flags and the environment.
    func ingestConfiguration(databaseURL: String) -> IngestConfiguration {
        var configuration = IngestConfiguration(
            kafkaOptions: kafka.librdkafkaOptions(), ratingsTopic: kafka.ratingsTopic, moviesTopic: kafka.moviesTopic,
            consumerGroup: kafka.consumerGroup, databaseURL: databaseURL)
        configuration.maxBatchEvents = batchSize
        configuration.maxBatchDelay = Double(batchDelayMilliseconds) / 1000
        configuration.untilCaughtUp = untilCaughtUp
        configuration.writers = writers
        return configuration
    }

    /// The Prometheus endpoint, or nil when the port is 0. Bootstraps swift-metrics with the
    /// registry it serves, before the runner makes its metrics.
    func metricsService(logger: Logger) throws -> (any Service)? {
        let port = try resolvedMetricsPort, host = resolvedMetricsHost
        guard port > 0 else { return nil }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return MetricsServer.service(registry: registry, host: host, port: port, logger: logger) { channel in
            let address = channel.localAddress.map { "\($0)" } ?? "\(host):\(port)"
            logger.info("serving Prometheus metrics", metadata: ["address": "\(address)", "paths": "/metrics /health"])
        }
    }

    /// Whether `host` is a dotted IPv4 address, the form `--metrics-host` takes.
    static func isIPv4Address(_ host: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, host, &address) == 1
    }
}
