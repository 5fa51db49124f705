import ArgumentParser
import Foundation
import Kafka

/// `latent dev-broker`: a Kafka broker for development, demos and tests, from librdkafka's mock cluster.
struct DevBrokerCommand: ParsableCommand {
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

    func run() throws {
        // Block SIGTERM and SIGINT before librdkafka starts its threads, which inherit the mask, and wait
        // for them on this thread with sigwait. (A dispatch signal source after dispatchMain() missed them:
        // brokers left by ops/demo ignored its SIGTERM.)
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGTERM)
        sigaddset(&stop, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stop, nil)

        let cluster = try KafkaMockCluster(brokers: brokerCount)
        for topic in topics { try cluster.createTopic(topic, partitions: partitions) }
        FileHandle.standardOutput.write(Data("bootstrap=\(cluster.bootstrapServers)\n".utf8))

        var received: Int32 = 0
        withExtendedLifetime(cluster) { _ = sigwait(&stop, &received) }
        // The cluster lives until the process exits; nothing of it needs tearing down.
        Foundation.exit(0)
    }
}
