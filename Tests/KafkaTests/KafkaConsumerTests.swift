import Foundation
import Kafka
import XCTest

final class KafkaConsumerTests: KafkaTestCase {
    func testGroupConsumesEveryProducedMessageOnceInOrder() throws {
        let fixture = try makeFixture(partitions: 4)
        let perPartition = 2_500
        try fixture.produce(perPartition: perPartition)

        let consumer = try fixture.makeConsumer()
        let received = try consume(consumer) { $0.count >= perPartition * 4 }
        XCTAssertTrue(try drain(consumer, seconds: 0.5).isEmpty, "no message may arrive twice")

        XCTAssertEqual(received.count, perPartition * 4)
        let byPartition = offsetsByPartition(received)
        for partition in Int32(0)..<4 {
            XCTAssertEqual(byPartition[partition], (0..<Int64(perPartition)).map { $0 }, "partition \(partition)")
        }
        for message in received {
            XCTAssertEqual(message.topic, fixture.topic)
            XCTAssertEqual(message.key, Array("k\(message.offset)".utf8))
            XCTAssertEqual(message.payload, KafkaFixture.payload(partition: message.partition, index: Int(message.offset)))
            XCTAssertNotNil(message.timestamp)
        }
        XCTAssertEqual(Set(consumer.assignment), Set(fixture.allPartitions))
        XCTAssertTrue(consumer.pendingAssignment.isEmpty)
        for tp in fixture.allPartitions {
            XCTAssertEqual(consumer.position(tp), Int64(perPartition), "\(tp)")
            let marks = try consumer.watermarks(tp, timeoutMilliseconds: 5_000)
            XCTAssertEqual(marks.low, 0)
            XCTAssertEqual(marks.high, Int64(perPartition))
        }
        consumer.close()
        XCTAssertThrowsError(try consumer.poll(maxMessages: 1, timeoutMilliseconds: 0))
    }

    func testStartOffsetsFromOnAssignAreHonoured() throws {
        let fixture = try makeFixture(partitions: 2)
        try fixture.produce(perPartition: 100)
        let starts: [TopicPartition: Int64] = [
            TopicPartition(topic: fixture.topic, partition: 0): 40,
            TopicPartition(topic: fixture.topic, partition: 1): 75,
        ]
        let assignedBox = Box<[TopicPartition]>([])
        let consumer = try fixture.makeConsumer(onAssign: { partitions in
            assignedBox.value = partitions
            return starts
        })
        let received = try consume(consumer) { $0.count >= 60 + 25 }
        XCTAssertTrue(try drain(consumer, seconds: 0.5).isEmpty)
        XCTAssertEqual(Set(assignedBox.value), Set(fixture.allPartitions))
        XCTAssertEqual(offsetsByPartition(received), [0: Array(40..<100), 1: Array(75..<100)])
    }

    func testPositionIsTheStartOffsetBeforeAnythingIsConsumed() throws {
        let fixture = try makeFixture(partitions: 1)
        try fixture.produce(perPartition: 10)
        let tp = fixture.allPartitions[0]
        let consumer = try fixture.makeConsumer(onAssign: { _ in [tp: 10] })
        _ = try consume(consumer) { _ in !consumer.assignment.isEmpty }
        XCTAssertEqual(consumer.position(tp), 10, "caught up at the high watermark without reading anything")
        XCTAssertEqual(try consumer.watermarks(tp, timeoutMilliseconds: 5_000).high, 10)
    }

    func testFailingOnAssignDefersTheAssignmentAndRetries() throws {
        let fixture = try makeFixture(partitions: 2)
        try fixture.produce(perPartition: 50)
        let attempts = Box(0)
        let consumer = try fixture.makeConsumer(onAssign: { partitions in
            attempts.value += 1
            if attempts.value <= 3 { throw DatabaseDown() }
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, 20) })
        })

        var sawPending = false
        let received = try consume(consumer) { messages in
            if !consumer.pendingAssignment.isEmpty {
                sawPending = true
                XCTAssertTrue(messages.isEmpty, "nothing may be consumed while the start offsets are unknown")
                XCTAssertTrue(consumer.assignment.isEmpty)
            }
            return messages.count >= 60
        }
        XCTAssertTrue(sawPending)
        XCTAssertEqual(attempts.value, 4)
        XCTAssertTrue(consumer.pendingAssignment.isEmpty)
        XCTAssertEqual(offsetsByPartition(received), [0: Array(20..<50), 1: Array(20..<50)])
    }

    func testSeekRereadsFromTheGivenOffset() throws {
        let fixture = try makeFixture(partitions: 1)
        try fixture.produce(perPartition: 30)
        let tp = fixture.allPartitions[0]
        let consumer = try fixture.makeConsumer()
        let first = try consume(consumer) { $0.count >= 30 }
        XCTAssertEqual(first.map(\.offset), Array(0..<30))

        try consumer.seek([tp: 12])
        XCTAssertEqual(consumer.position(tp), 12)
        let again = try consume(consumer) { $0.count >= 18 }
        XCTAssertEqual(again.map(\.offset), Array(12..<30))
        XCTAssertThrowsError(try consumer.seek([TopicPartition(topic: "elsewhere", partition: 0): 0]))
    }

    func testCommitIsWhereTheNextMemberWithoutStartOffsetsResumes() throws {
        let fixture = try makeFixture(partitions: 2)
        try fixture.produce(perPartition: 10)
        let tps = fixture.allPartitions
        let first = try fixture.makeConsumer()
        _ = try consume(first) { $0.count >= 20 }
        first.commit([tps[0]: 10, tps[1]: 7])
        // Closing waits for the commits in flight before it leaves the group.
        first.close()

        // onAssign gives no start offsets: the group's committed offsets decide.
        let second = try fixture.makeConsumer()
        let received = try consume(second) { $0.count >= 3 }
        XCTAssertTrue(try drain(second, seconds: 0.5).isEmpty)
        XCTAssertEqual(offsetsByPartition(received), [1: [7, 8, 9]], "partition 0 was committed at its end")
    }

    func testRevokeReportsTheAssignedPartitionsOnClose() throws {
        let fixture = try makeFixture(partitions: 3)
        let revoked = Box<[TopicPartition]>([])
        let consumer = try fixture.makeConsumer(onRevoke: { revoked.value += $0 })
        _ = try consume(consumer) { _ in consumer.assignment.count == 3 }
        consumer.close()
        XCTAssertEqual(Set(revoked.value), Set(fixture.allPartitions))
        XCTAssertTrue(consumer.assignment.isEmpty)
    }

    func testInvalidConfigurationIsRejectedWithoutEchoingSecrets() {
        XCTAssertThrowsError(try KafkaConsumer(options: ["no.such.property": "x"], groupID: "g", topics: ["t"],
                                               onAssign: { _ in [:] }, onRevoke: { _ in })) { error in
            XCTAssertTrue("\(error)".contains("no.such.property"), "\(error)")
        }
        XCTAssertThrowsError(try KafkaConsumer(options: [:], groupID: "", topics: ["t"],
                                               onAssign: { _ in [:] }, onRevoke: { _ in }))
        XCTAssertThrowsError(try KafkaConsumer(options: ["partition.assignment.strategy": "cooperative-sticky"],
                                               groupID: "g", topics: ["t"], onAssign: { _ in [:] }, onRevoke: { _ in }))
        XCTAssertThrowsError(try KafkaProducer(options: ["sasl.mechanisms": "hunter2-secret", "security.protocol": "sasl_plaintext"])) { error in
            XCTAssertFalse("\(error)".contains("hunter2-secret"), "\(error)")
        }
    }

    func testRedactionHidesSecretValues() {
        let text = KafkaConfiguration.redacted(["sasl.password": "pw", "ssl.key.pem": "key", "bootstrap.servers": "h:9092"])
        XCTAssertEqual(text, "bootstrap.servers=h:9092, sasl.password=<redacted>, ssl.key.pem=<redacted>")
    }
}

struct DatabaseDown: Error {}

/// Mutable state shared with consumer callbacks (always called on the test's polling thread).
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

final class KafkaPauseTests: KafkaTestCase {
    /// While paused, `poll` returns nothing (already-fetched messages included) but keeps the membership alive;
    /// after `resume`, reading continues right after the last message returned.
    func testPauseStopsDeliveryAndResumeContinuesWithoutGapsOrRepeats() throws {
        let fixture = try makeFixture(partitions: 2)
        try fixture.produce(perPartition: 1_000)
        let consumer = try fixture.makeConsumer()
        // One message per poll until the group join completes: a larger poll may take everything
        // fetched meanwhile (on a loaded machine, all 2,000) and leave nothing to pause.
        var received: [KafkaMessage] = []
        let joinDeadline = Date().addingTimeInterval(30)
        while consumer.assignment.isEmpty && Date() < joinDeadline {
            received += try consumer.poll(maxMessages: 1, timeoutMilliseconds: 200)
        }
        XCTAssertFalse(consumer.assignment.isEmpty, "no assignment within 30 s")
        received += try consumer.poll(maxMessages: 300, timeoutMilliseconds: 5_000)
        XCTAssertLessThan(received.count, 2_000, "the test needs messages left to read")

        try consumer.pause()
        try fixture.produce(perPartition: 100, startingAt: 1_000)
        XCTAssertEqual(try drain(consumer, seconds: 1.5).count, 0, "nothing may be delivered while paused")

        try consumer.resume()
        received += try consume(consumer) { received.count + $0.count >= 2_200 }
        received += try drain(consumer, seconds: 0.5)
        XCTAssertEqual(offsetsByPartition(received), [0: Array(0..<1_100), 1: Array(0..<1_100)])
    }
}
