import Foundation
import Kafka
import XCTest

/// Test case base: fixtures live until `tearDown`, which closes their consumers before their cluster goes away
/// (a local could otherwise be released after its last use, with a consumer still talking to the cluster).
class KafkaTestCase: XCTestCase {
    private var fixtures: [KafkaFixture] = []

    func makeFixture(topic: String = "ratings", partitions: Int32, brokers: Int = 1) throws -> KafkaFixture {
        let fixture = try KafkaFixture(topic: topic, partitions: partitions, brokers: brokers)
        fixtures.append(fixture)
        return fixture
    }

    override func tearDown() {
        for fixture in fixtures { fixture.closeConsumers() }
        fixtures = []
        super.tearDown()
    }
}

/// A fresh mock cluster with one topic, and helpers bounded by deadlines so a broken test fails, never hangs.
final class KafkaFixture {
    let cluster: KafkaMockCluster
    let topic: String
    let partitions: Int32
    private var consumers: [KafkaConsumer] = []

    init(topic: String = "ratings", partitions: Int32, brokers: Int = 1) throws {
        cluster = try KafkaMockCluster(brokers: brokers)
        self.topic = topic
        self.partitions = partitions
        try cluster.createTopic(topic, partitions: partitions)
    }

    /// Client options that make group joins and failure detection fast against the mock cluster.
    var clientOptions: [String: String] {
        [
            "bootstrap.servers": cluster.bootstrapServers,
            "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "500",
            "reconnect.backoff.ms": "50",
            "reconnect.backoff.max.ms": "500",
        ]
    }

    func makeProducer() throws -> KafkaProducer {
        try KafkaProducer(options: clientOptions)
    }

    /// Produces `perPartition` messages to every partition; payload "p<partition>-<index>".
    func produce(perPartition: Int, startingAt first: Int = 0, with producer: KafkaProducer? = nil) throws {
        let producer = try producer ?? makeProducer()
        for index in first..<(first + perPartition) {
            for partition in 0..<partitions {
                try producer.send(topic: topic, key: Array("k\(index)".utf8),
                                  value: Self.payload(partition: partition, index: index), partition: partition)
            }
        }
        try producer.flush(timeoutMilliseconds: 30_000)
    }

    static func payload(partition: Int32, index: Int) -> [UInt8] {
        Array("p\(partition)-\(index)".utf8)
    }

    func makeConsumer(
        group: String = "test-group",
        onAssign: @escaping ([TopicPartition]) throws -> [TopicPartition: Int64] = { _ in [:] },
        onRevoke: @escaping ([TopicPartition]) -> Void = { _ in }
    ) throws -> KafkaConsumer {
        let consumer = try KafkaConsumer(options: clientOptions, groupID: group, topics: [topic],
                                         onAssign: onAssign, onRevoke: onRevoke)
        consumers.append(consumer)
        return consumer
    }

    func closeConsumers() {
        for consumer in consumers { consumer.close() }
        consumers = []
    }

    var allPartitions: [TopicPartition] {
        (0..<partitions).map { TopicPartition(topic: topic, partition: $0) }
    }
}

/// Polls until `done` holds for the messages received so far, or fails the test at the deadline.
func consume(_ consumer: KafkaConsumer, seconds: Double = 30, file: StaticString = #filePath, line: UInt = #line,
             until done: ([KafkaMessage]) -> Bool) throws -> [KafkaMessage] {
    let deadline = Date().addingTimeInterval(seconds)
    var received: [KafkaMessage] = []
    while !done(received) {
        guard Date() < deadline else {
            XCTFail("gave up after \(seconds) s with \(received.count) message(s)", file: file, line: line)
            return received
        }
        received += try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: 200)
    }
    return received
}

/// Polls for `seconds` and returns everything received (for "nothing more arrives" checks).
func drain(_ consumer: KafkaConsumer, seconds: Double) throws -> [KafkaMessage] {
    let deadline = Date().addingTimeInterval(seconds)
    var received: [KafkaMessage] = []
    while Date() < deadline {
        received += try consumer.poll(maxMessages: 10_000, timeoutMilliseconds: 100)
    }
    return received
}

/// Offsets received per partition, in arrival order.
func offsetsByPartition(_ messages: [KafkaMessage]) -> [Int32: [Int64]] {
    Dictionary(grouping: messages, by: \.partition).mapValues { $0.map(\.offset) }
}
