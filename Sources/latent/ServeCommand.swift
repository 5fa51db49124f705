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

    @OptionGroup var http: HTTPOptions
    @OptionGroup var schedule: ScheduleOptions

    @Flag(name: .customLong("no-ingest"), help: "Run without the Kafka consumer (a training or HTTP-only instance).")
    var noIngest = false

    @Flag(name: .customLong("no-live"), help: "Do not refresh users' lists after their new ratings.")
    var noLive = false

    func validate() throws {
        try database.requireURL()
        _ = try schedule.cron()
        _ = try http.port()
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
        services.append(TrainingScheduler(schedule: try schedule.cron(), cycle: try publish.cycle(defaultThreads: trainingThreads), databaseURL: url, instance: instance, health: health))
        let host = http.host
        let routes = HTTPRoutes(databaseURL: url, registry: registry, health: health, requireIngest: !noIngest)
        let port = try http.port()
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
