import CRdKafka
import Foundation
import Logging

/// The Swift side of a consumer reachable from librdkafka's C callbacks through the configuration opaque.
///
/// `@unchecked Sendable`: mutable state is guarded by `lock`; the application closures are only called from
/// the thread serving rebalances (inside `poll`/`close`), never while `lock` is held.
final class ConsumerState: @unchecked Sendable {
    private static let firstRetryDelay: Duration = .milliseconds(250)
    private static let maxRetryDelay: Duration = .seconds(5)

    private let onAssign: ([TopicPartition]) throws -> [TopicPartition: Int64]
    private let onRevoke: ([TopicPartition]) -> Void
    private let logger = Logger(label: "latent.kafka.consumer")

    private let lock = NSLock()
    private var active: [TopicPartition] = []
    private var pending: [TopicPartition] = []
    private var nextRetry = ContinuousClock.now
    private var retryDelay = firstRetryDelay
    private var positions: [TopicPartition: Int64] = [:]
    private var rebalanceCount = 0
    private var closed = false

    init(onAssign: @escaping ([TopicPartition]) throws -> [TopicPartition: Int64],
         onRevoke: @escaping ([TopicPartition]) -> Void) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var assignment: [TopicPartition] { locked { active } }
    var pendingAssignment: [TopicPartition] { locked { pending } }
    /// Changes whenever the assignment changes; lets `poll` notice a rebalance in the middle of a batch.
    var generation: Int { locked { rebalanceCount } }
    var isClosed: Bool { locked { closed } }

    /// Returns true the first time only.
    func markClosed() -> Bool {
        locked {
            defer { closed = true }
            return !closed
        }
    }

    func position(_ tp: TopicPartition) -> Int64? { locked { positions[tp] } }

    func setPositions(_ offsets: [TopicPartition: Int64]) {
        locked {
            for (tp, offset) in offsets where offset >= 0 { positions[tp] = offset }
        }
    }

    /// Records offset + 1 of the last message of each partition (messages of one partition arrive in order).
    func advancePositions(past messages: [KafkaMessage]) {
        guard !messages.isEmpty else { return }
        var latest: [TopicPartition: Int64] = [:]
        var current = messages[0].topicPartition
        var next = messages[0].offset + 1
        for message in messages.dropFirst() {
            if message.partition != current.partition || message.topic != current.topic {
                latest[current] = next
                current = message.topicPartition
            }
            next = message.offset + 1
        }
        latest[current] = next
        locked { positions.merge(latest) { _, new in new } }
    }

    /// Milliseconds until a deferred assignment should be retried (0 = now), or nil if none is pending.
    func millisecondsUntilAssignmentRetry() -> Int32? {
        locked {
            guard !pending.isEmpty else { return nil }
            let remaining = ContinuousClock.now.duration(to: nextRetry)
            guard remaining > .zero else { return 0 }
            let (seconds, attoseconds) = remaining.components
            return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
        }
    }

    // MARK: - Rebalance (called by librdkafka on the polling thread)

    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
                   _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let assigned = PartitionList.elements(of: partitions).map(\.partition)
            locked {
                pending = assigned
                retryDelay = Self.firstRetryDelay
            }
            assign(rk, insideRebalance: true)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            revokeAll(rk, lost: rd_kafka_assignment_lost(rk) != 0)
        default:
            logger.error("rebalance failed, dropping the assignment",
                         metadata: ["error": "\(KafkaError(err, "rebalance"))"])
            revokeAll(rk, lost: true)
        }
    }

    /// Asks the application for start offsets of the pending partitions and assigns them; on failure assigns
    /// nothing (inside a rebalance, an empty assignment lets the group settle) and schedules a retry.
    func assign(_ rk: OpaquePointer, insideRebalance: Bool) {
        let partitions = locked { pending }
        guard !partitions.isEmpty else {
            if insideRebalance { assignEmpty(rk) }
            return
        }
        do {
            let offsets = try onAssign(partitions)
            let list = PartitionList(partitions, offsets: offsets)
            let err = rd_kafka_assign(rk, list.pointer)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "rd_kafka_assign failed") }
            locked {
                active = partitions
                pending = []
                retryDelay = Self.firstRetryDelay
                rebalanceCount += 1
                for tp in partitions {
                    if let offset = offsets[tp], offset >= 0 { positions[tp] = offset } else { positions[tp] = nil }
                }
            }
            logger.info("partitions assigned", metadata: [
                "partitions": "\(partitions.map(\.description).sorted().joined(separator: ","))",
            ])
        } catch {
            if insideRebalance { assignEmpty(rk) }
            let delay = locked {
                let delay = retryDelay
                nextRetry = ContinuousClock.now + delay
                retryDelay = min(retryDelay * 2, Self.maxRetryDelay)
                return delay
            }
            logger.warning("start offsets unavailable; \(partitions.count) partition(s) stay unassigned, retrying in \(delay)",
                           metadata: ["error": "\(error)"])
        }
    }

    private func assignEmpty(_ rk: OpaquePointer) {
        let empty = PartitionList(capacity: 0)
        let err = rd_kafka_assign(rk, empty.pointer)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.error("could not confirm an empty assignment", metadata: ["error": "\(KafkaError(err, "assign"))"])
        }
    }

    private func revokeAll(_ rk: OpaquePointer, lost: Bool) {
        let revoked = locked {
            defer {
                active = []
                pending = []
                positions = [:]
                rebalanceCount += 1
            }
            return active
        }
        if !revoked.isEmpty {
            logger.info(lost ? "partitions lost" : "partitions revoked", metadata: [
                "partitions": "\(revoked.map(\.description).sorted().joined(separator: ","))",
            ])
            onRevoke(revoked)
        }
        let err = rd_kafka_assign(rk, nil)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.error("could not unassign", metadata: ["error": "\(KafkaError(err, "unassign"))"])
        }
    }

    static func logCommitResult(_ err: rd_kafka_resp_err_t,
                                _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard err != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
        let failed = PartitionList.elements(of: offsets).filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR || !failed.isEmpty else { return }
        let logger = Logger(label: "latent.kafka.consumer")
        logger.warning("offset commit to Kafka failed (lag tooling only, ingest is unaffected)", metadata: [
            "error": "\(KafkaError(err, "commit"))",
            "partitions": "\(failed.map { "\($0.partition):\(String(cString: rd_kafka_err2name($0.error)))" })",
        ])
    }
}
