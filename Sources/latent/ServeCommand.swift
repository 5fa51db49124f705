import Ingest
import ArgumentParser
import Foundation
import Hummingbird
import LatentServer
import Logging
import Metrics
import Pipeline
import Prometheus
import ServiceLifecycle

/// `latent serve`: the whole service in one process.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run ingest, the training schedule, the live refresh of users' lists and the HTTP endpoints.",
        discussion: """
            Services of one ServiceGroup (swift-service-lifecycle); SIGTERM or SIGINT stops them \
            gracefully: ingest commits the batch in flight, a training run in progress stops at its \
            next phase and is marked failed (never half-published). Training runs on the cron \
            schedule and on request (latent retrain-now, POST /retrain); only one instance of the \
            cluster trains at a time (a PostgreSQL advisory lock), every instance consumes (the \
            consumer group spreads the partitions). After each committed batch the users whose \
            ratings changed get a refreshed list in the serving run. HTTP: GET /health, GET /ready, \
            GET /metrics (Prometheus), POST /retrain, GET /runs.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var publish: PublishOptions

    @Option(name: .customLong("http-host"), help: "Address the HTTP server binds (default: $LATENT_HTTP_HOST, else 127.0.0.1).")
    var httpHost: String?

    @Option(name: .customLong("http-port"), help: "HTTP port (default: $LATENT_HTTP_PORT, else 8080).")
    var httpPort: Int?

    @Option(help: "When to retrain: a five-field cron expression (default: $LATENT_TRAIN_SCHEDULE, else '0 3 * * *').")
    var schedule: String?

    @Option(name: .customLong("timezone"), help: "Time zone of the schedule (default: $LATENT_TIMEZONE, else UTC).")
    var timeZone: String?

    @Flag(name: .customLong("no-ingest"), help: "Run without the Kafka consumer (a training or HTTP-only instance).")
    var noIngest = false

    @Flag(name: .customLong("no-live"), help: "Do not refresh users' lists after their new ratings.")
    var noLive = false

    func validate() throws {
        try database.requireURL()
        _ = try cron()
        let port = try self.port()
        guard (0...65535).contains(port) else { throw ValidationError("--http-port must be in 0...65535, got \(port)") }
    }

    func cron() throws -> CronSchedule {
        let env = ProcessInfo.processInfo.environment
        let zoneName = timeZone ?? env["LATENT_TIMEZONE"].flatMap { $0.isEmpty ? nil : $0 } ?? "UTC"
        guard let zone = TimeZone(identifier: zoneName) else {
            throw ValidationError("--timezone / LATENT_TIMEZONE: unknown time zone '\(zoneName)' (an IANA name such as UTC or Europe/Paris)")
        }
        let expression = schedule ?? env["LATENT_TRAIN_SCHEDULE"].flatMap { $0.isEmpty ? nil : $0 } ?? "0 3 * * *"
        do { return try CronSchedule(expression, timeZone: zone) } catch {
            throw ValidationError("--schedule / LATENT_TRAIN_SCHEDULE: \(error)")
        }
    }

    func port() throws -> Int {
        if let httpPort { return httpPort }
        guard let text = ProcessInfo.processInfo.environment["LATENT_HTTP_PORT"], !text.isEmpty else { return 8080 }
        guard let value = Int(text) else { throw ValidationError("LATENT_HTTP_PORT must be a port number, got '\(text)'") }
        return value
    }

    func run() async throws {
        let logger = Logger(label: "latent.serve")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        guard let url = database.url else { throw ValidationError(DatabaseOptions.missingMessage) }
        // Training must not starve ingest: unless told otherwise it leaves one core free.
        let trainingThreads = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        let health = ServerHealth()
        let instance = "\(ProcessInfo.processInfo.hostName):\(getpid())"

        var services: [any Service] = []
        var onCommitted: (@Sendable (CommittedRatings) -> Void)?
        if !noLive {
            let live = LiveRefreshService(databaseURL: url, listLength: try publish.settings().listLength)
            services.append(live)
            onCommitted = live.hook
        }
        if !noIngest {
            var configuration = IngestConfiguration(
                kafkaOptions: kafka.librdkafkaOptions(), ratingsTopic: kafka.ratingsTopic, moviesTopic: kafka.moviesTopic,
                consumerGroup: kafka.consumerGroup, databaseURL: url)
            configuration.onBatchCommitted = onCommitted
            services.append(IngestService(configuration: configuration, health: health))
        }
        services.append(TrainingScheduler(schedule: try cron(), cycle: try publish.cycle(defaultThreads: trainingThreads), databaseURL: url, instance: instance, health: health))
        let host = httpHost ?? ProcessInfo.processInfo.environment["LATENT_HTTP_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let routes = HTTPRoutes(databaseURL: url, registry: registry, health: health, requireIngest: !noIngest)
        let port = try self.port()
        services.append(Application(
            router: routes.router(), configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                logger.info("HTTP listening", metadata: ["host": "\(host)", "port": "\(channel.localAddress?.port ?? port)"])
            },
            logger: Logger(label: "latent.http")))

        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("serving", metadata: ["instance": "\(instance)", "services": "\(services.count)"])
        do {
            try await group.run()
        } catch {
            throw CommandFailure("latent serve stopped: \(Self.explain(error, host: host, port: port))")
        }
    }

    /// A bind failure in words an operator can act on.
    static func explain(_ error: any Error, host: String, port: Int) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("EADDRINUSE") {
            return "cannot listen on \(host):\(port): the address is already in use (another latent serve? set --http-port or LATENT_HTTP_PORT)"
        }
        return text
    }
}
