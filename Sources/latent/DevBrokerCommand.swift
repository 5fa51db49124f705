import ArgumentParser
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// `latent dev-broker`: a Kafka broker for development, demos and tests, from librdkafka's mock cluster.
struct DevBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run a development Kafka broker on loopback until SIGTERM/SIGINT.",
        discussion: """
            Prints one line, bootstrap=127.0.0.1:PORT, once the topics exist. It is librdkafka's mock cluster: \
            each partition keeps only about 5 MB (or 100,000 batches) of messages, older ones are dropped and the \
            low watermark moves up, so give it enough partitions for your volume. A first consumer-group join \
            takes about 3 s; a member that dies without leaving delays the next join by up to \
            session.timeout.ms - 1 s, so clients should use a short session.timeout.ms (e.g. 6000) against it.
            """
    )

    @Option(help: "Partitions per topic.")
    var partitions: Int32 = 8

    @Option(name: .customLong("brokers"), help: "Number of brokers in the cluster.")
    var brokerCount: Int = 1

    @Option(name: .customLong("topic"),
            help: "A topic to create; repeatable (default: the ratings and movies topics).")
    var extraTopics: [String] = []

    @OptionGroup var topicNames: KafkaTopicOptions

    /// The topics to create, without duplicates, in the order given.
    var topics: [String] {
        let requested = extraTopics.isEmpty ? [topicNames.ratingsTopic, topicNames.moviesTopic] : extraTopics
        var seen = Set<String>()
        return requested.filter { seen.insert($0).inserted }
    }

    func validate() throws {
        guard (1...10_000).contains(partitions) else {
            throw ValidationError("--partitions must be between 1 and 10000, got \(partitions)")
        }
        guard (1...64).contains(brokerCount) else {
            throw ValidationError("--brokers (the number of mock brokers) must be between 1 and 64, got \(brokerCount)")
        }
        for topic in extraTopics { try KafkaTopicOptions.validateTopicName(topic, source: "--topic") }
    }

    func run() async throws {
        let logger = Logger(label: "latent.dev-broker")
        let broker = DevBrokerService(brokers: brokerCount, topics: topics, partitions: partitions) { bootstrap in
            FileHandle.standardOutput.write(Data("bootstrap=\(bootstrap)\n".utf8))
        }
        let group = ServiceGroup(services: [broker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// librdkafka's mock cluster as a service: created with its topics when the service starts,
/// destroyed when graceful shutdown (SIGTERM/SIGINT through the ``ServiceGroup``) ends it.
///
/// No signal mask is needed for the signals to arrive, whichever thread (librdkafka's
/// included) the kernel hands them to: on Linux the group's signal source (libdispatch)
/// installs a handler that passes each signal on to the thread reading its signalfd.
/// (Ignoring the signals, as the dispatch source of an earlier version did, would discard
/// them instead.) DevBrokerCommandTests checks that SIGTERM and SIGINT stop the broker with
/// status 0, with a client connected.
struct DevBrokerService: Service {
    let brokers: Int
    let topics: [String]
    let partitions: Int32
    /// Called with the bootstrap servers (`127.0.0.1:PORT`) once every topic exists.
    let onReady: @Sendable (String) -> Void

    func run() async throws {
        let cluster = try KafkaMockCluster(brokers: brokers)
        for topic in topics { try cluster.createTopic(topic, partitions: partitions) }
        onReady(cluster.bootstrapServers)
        // Returns on graceful shutdown; throws CancellationError when the group is cancelled.
        try await gracefulShutdown()
        withExtendedLifetime(cluster) {}
    }
}
