import Foundation
import Kafka
import XCTest

final class KafkaFaultTests: KafkaTestCase {
    /// The broker goes away mid-stream: `poll` keeps returning (no throw), and once the broker is back every
    /// message, including those produced during the outage, arrives exactly once.
    func testBrokerDownAndUpLosesNothing() throws {
        let fixture = try makeFixture(partitions: 2)
        let producer = try fixture.makeProducer()
        try fixture.produce(perPartition: 500, with: producer)

        // Like the ingest: on (re)assignment, resume after what was already consumed.
        let consumed = Box<[TopicPartition: Int64]>([:])
        let consumer = try fixture.makeConsumer(onAssign: { partitions in
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, consumed.value[$0] ?? 0) })
        })
        var received = try consume(consumer) { $0.count >= 1_000 }
        func remember(_ messages: [KafkaMessage]) {
            for message in messages { consumed.value[message.topicPartition] = message.offset + 1 }
        }
        remember(received)

        try fixture.cluster.setBrokerDown(1)
        for index in 500..<700 {  // queued by the producer while the broker is down
            for partition in Int32(0)..<2 {
                try producer.send(topic: fixture.topic, key: nil,
                                  value: KafkaFixture.payload(partition: partition, index: index), partition: partition)
            }
        }
        let duringOutage = try drain(consumer, seconds: 3)  // must not throw
        XCTAssertTrue(duringOutage.isEmpty, "nothing can be fetched from a broker that is down")
        try fixture.cluster.setBrokerUp(1)
        try producer.flush(timeoutMilliseconds: 30_000)

        let rest = try consume(consumer, seconds: 60) { messages in
            remember(messages.suffix(1))
            return received.count + messages.count >= 1_400
        }
        received += rest
        received += try drain(consumer, seconds: 0.5)
        XCTAssertEqual(offsetsByPartition(received), [0: Array(0..<700), 1: Array(0..<700)])
        for tp in fixture.allPartitions {
            XCTAssertEqual(try consumer.watermarks(tp, timeoutMilliseconds: 5_000).high, 700)
        }
    }

    /// Retriable produce errors injected by the mock cluster are retried by librdkafka; non-retriable ones
    /// surface from `flush`.
    func testProduceErrorsInjectedByTheMockCluster() throws {
        let fixture = try makeFixture(partitions: 1)
        let producer = try fixture.makeProducer()
        let produceAPI: Int16 = 0
        fixture.cluster.pushRequestErrors(apiKey: produceAPI, errors: [6, 6])  // NOT_LEADER_FOR_PARTITION
        try producer.send(topic: fixture.topic, key: nil, value: [1])
        try producer.flush(timeoutMilliseconds: 30_000)

        fixture.cluster.pushRequestErrors(apiKey: produceAPI, errors: [10])  // MESSAGE_TOO_LARGE
        try producer.send(topic: fixture.topic, key: nil, value: [2])
        XCTAssertThrowsError(try producer.flush(timeoutMilliseconds: 30_000)) { error in
            XCTAssertEqual((error as? KafkaError)?.code, 10, "\(error)")
        }
        try producer.send(topic: fixture.topic, key: nil, value: [3])
        try producer.flush(timeoutMilliseconds: 30_000)  // earlier failures were reported once

        let consumer = try fixture.makeConsumer()
        let received = try consume(consumer) { $0.count >= 2 }
        XCTAssertEqual(received.map(\.payload), [[1], [3]])
    }
}
