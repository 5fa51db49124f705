import Foundation
import Kafka
import XCTest

final class KafkaRebalanceTests: KafkaTestCase {
    /// Two members of one group, with offsets kept by the application (as the ingest keeps them in PostgreSQL):
    /// when the second member joins, partitions move, and every message is still handed out exactly once.
    func testSecondMemberJoiningSplitsPartitionsWithoutDuplicates() throws {
        let fixture = try makeFixture(partitions: 4)
        try fixture.produce(perPartition: 200)

        let store = Box<[TopicPartition: Int64]>([:])  // "database" of next offsets
        let seen = Box<[TopicPartition: [Int64]]>([:])
        func process(_ messages: [KafkaMessage]) {
            for message in messages {
                seen.value[message.topicPartition, default: []].append(message.offset)
                store.value[message.topicPartition] = message.offset + 1
            }
        }
        func startOffsets(_ partitions: [TopicPartition]) -> [TopicPartition: Int64] {
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, store.value[$0] ?? 0) })
        }
        let first = try fixture.makeConsumer(onAssign: startOffsets)
        process(try consume(first) { $0.count >= 300 })

        let second = try fixture.makeConsumer(onAssign: startOffsets)
        let deadline = Date().addingTimeInterval(60)
        var producedMore = false
        var receivedAfterSplit = (first: 0, second: 0)
        while Date() < deadline {
            let fromFirst = try first.poll(maxMessages: 50, timeoutMilliseconds: 50)
            let fromSecond = try second.poll(maxMessages: 50, timeoutMilliseconds: 50)
            process(fromFirst)
            process(fromSecond)
            let split = !first.assignment.isEmpty && !second.assignment.isEmpty
            if split && !producedMore {
                XCTAssertEqual(Set(first.assignment).union(second.assignment), Set(fixture.allPartitions))
                XCTAssertTrue(Set(first.assignment).isDisjoint(with: second.assignment))
                try fixture.produce(perPartition: 100, startingAt: 200)
                producedMore = true
            } else if producedMore {
                receivedAfterSplit.first += fromFirst.count
                receivedAfterSplit.second += fromSecond.count
            }
            if producedMore, seen.value.values.reduce(0, { $0 + $1.count }) >= 1_200 { break }
        }
        XCTAssertTrue(producedMore, "the group never split the partitions between the two members")
        XCTAssertGreaterThan(receivedAfterSplit.first, 0)
        XCTAssertGreaterThan(receivedAfterSplit.second, 0)
        for tp in fixture.allPartitions {
            XCTAssertEqual(seen.value[tp], Array(0..<300), "\(tp): every offset exactly once, in order")
        }
    }
}
