import CRdKafka
import Foundation
import Logging

/// A consumer-group member that starts each assigned partition at an offset chosen by the application.
///
/// The application keeps its own offsets (e.g. in the same database transaction as the data) and tells the
/// consumer where to start through `onAssign`; committing to Kafka (`commit`) is only for lag tooling.
///
/// ## Rebalances (eager protocol)
/// Rebalance events are served inside `poll` and `close`, on the calling thread:
/// - partitions assigned: `onAssign` returns the start offset of each; the consumer then assigns them.
///   If `onAssign` throws (say the database is down), **nothing is assigned**: the consumer assigns an empty
///   set so the group can settle, keeps the partitions as `pendingAssignment`, and calls `onAssign` again from
///   a later `poll`, with a back-off doubling from 250 ms to 5 s, until it succeeds or a rebalance takes the
///   partitions away. No message of a pending partition is ever returned, so consumption never starts from
///   a wrong offset.
/// - partitions revoked: `onRevoke` receives the partitions previously handed out by a successful
///   `onAssign` (not the pending ones), before they are unassigned. Messages fetched in the same `poll`
///   before the rebalance, from partitions no longer assigned after it, are dropped rather than returned.
///
/// `@unchecked Sendable`: `rd_kafka_t` is thread-safe and the Swift-side state is guarded by a lock.
/// `poll` and `close` run rebalance callbacks and must be called from one thread at a time (the polling
/// loop); `commit`, `assignment`, `position`, `watermarks`, `seek`, `pause` and `resume` are safe from any thread.
package final class KafkaConsumer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let state: ConsumerState
    private let logger = Logger(label: "latent.kafka.consumer")

    /// Joins consumer group `groupID` and subscribes to `topics`.
    ///
    /// - Parameters:
    ///   - options: librdkafka configuration properties (`bootstrap.servers`, TLS/SASL settings, ...).
    ///     Defaults set here unless `options` overrides them: `enable.auto.commit=false`,
    ///     `enable.auto.offset.store=false`, `auto.offset.reset=earliest` (used for partitions `onAssign`
    ///     leaves without an offset and no committed offset). The cooperative-sticky assignor is rejected.
    ///   - onAssign: called on the polling thread, inside `poll`, with newly assigned partitions; returns the
    ///     next offset to read for each (absolute, ≥ 0). A partition without an entry starts from the group's
    ///     committed offset, or `auto.offset.reset`. Throwing defers the assignment (see the type's doc).
    ///   - onRevoke: called before partitions are taken away (inside `poll` or `close`).
    package init(
        options: [String: String],
        groupID: String,
        topics: [String],
        onAssign: @escaping ([TopicPartition]) throws -> [TopicPartition: Int64],
        onRevoke: @escaping ([TopicPartition]) -> Void
    ) throws(KafkaError) {
        guard !groupID.isEmpty else { throw KafkaError.invalidConfiguration("the consumer group id is empty") }
        guard !topics.isEmpty, !topics.contains(where: \.isEmpty) else {
            throw KafkaError.invalidConfiguration("the consumer needs at least one non-empty topic name, got \(topics)")
        }
        if let strategy = options["partition.assignment.strategy"], strategy.contains("cooperative") {
            throw KafkaError.invalidConfiguration(
                "partition.assignment.strategy=\(strategy) is not supported: KafkaConsumer uses the eager protocol (range or roundrobin)")
        }
        var settings: [String: String] = [
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
        ]
        settings.merge(options) { _, given in given }
        settings["group.id"] = groupID

        let state = ConsumerState(onAssign: onAssign, onRevoke: onRevoke)
        let orderedSettings = settings.sorted { $0.key < $1.key }
        let conf = try makeConfiguration(orderedSettings)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(state).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let rk, let opaque else { return }
            Unmanaged<ConsumerState>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk, err, partitions)
        }
        rd_kafka_conf_set_offset_commit_cb(conf) { _, err, offsets, _ in
            ConsumerState.logCommitResult(err, offsets)
        }
        let handle = try makeHandle(RD_KAFKA_CONSUMER, conf, options: orderedSettings)
        // From here on `handle` is ours; destroy it if subscribing fails.
        rd_kafka_poll_set_consumer(handle)
        let subscription = PartitionList(capacity: topics.count)
        for topic in topics { subscription.add(TopicPartition(topic: topic, partition: RD_KAFKA_PARTITION_UA), offset: 0) }
        let err = rd_kafka_subscribe(handle, subscription.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(handle)
            throw KafkaError(err, "could not subscribe to \(topics.joined(separator: ", "))")
        }
        self.handle = handle
        self.state = state
        logger.debug("consumer created", metadata: [
            "group": "\(groupID)", "topics": "\(topics)", "options": "\(KafkaConfiguration.redacted(settings))",
        ])
    }

    deinit {
        close()
        rd_kafka_destroy(handle)
    }

    /// Returns up to `maxMessages` messages, waiting at most `timeoutMilliseconds` for the first one and
    /// then taking only what is already fetched. Serves rebalances and retries a pending assignment.
    ///
    /// Transient errors (broker down, transport, partition errors) are logged and consumption carries on.
    /// - Throws: on a fatal client error, or when the consumer is closed.
    package func poll(maxMessages: Int, timeoutMilliseconds: Int32) throws(KafkaError) -> [KafkaMessage] {
        guard !state.isClosed else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__STATE.rawValue, message: "poll called on a closed consumer")
        }
        var wait = timeoutMilliseconds
        if let untilRetry = state.millisecondsUntilAssignmentRetry() {
            if untilRetry == 0 {
                state.assign(handle, insideRebalance: false)
            } else {
                wait = min(wait, untilRetry)
            }
        }

        let generation = state.generation
        var messages: [KafkaMessage] = []
        messages.reserveCapacity(min(max(maxMessages, 0), 4096))
        while messages.count < maxMessages {
            guard let message = rd_kafka_consumer_poll(handle, wait) else { break }
            wait = 0
            defer { rd_kafka_message_destroy(message) }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                messages.append(KafkaMessage(message))
            } else {
                try reportConsumeError(message)
            }
        }

        if state.generation != generation {
            // A rebalance ran during this batch: keep only messages of partitions still ours.
            let owned = Set(state.assignment)
            messages.removeAll { !owned.contains($0.topicPartition) }
        }
        state.advancePositions(past: messages)
        try throwIfFatal()
        return messages
    }

    /// Commits `nextOffsets` (the offset of the next message to read, per partition) to Kafka asynchronously.
    /// Failures are logged; the result only matters to lag tooling, never to where this consumer resumes.
    package func commit(_ nextOffsets: [TopicPartition: Int64]) {
        guard !nextOffsets.isEmpty, !state.isClosed else { return }
        let list = PartitionList(Array(nextOffsets.keys), offsets: nextOffsets)
        let err = rd_kafka_commit(handle, list.pointer, 1)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("offset commit to Kafka not sent", metadata: ["error": "\(KafkaError(err, "commit"))"])
        }
    }

    /// Partitions currently assigned and handed to the application by `onAssign`.
    package var assignment: [TopicPartition] { state.assignment }

    /// Partitions the group assigned to this member whose `onAssign` failed; retried from `poll`.
    /// While this is not empty the consumer is not caught up, whatever `assignment` says.
    package var pendingAssignment: [TopicPartition] { state.pendingAssignment }

    /// Asks the partition leader for the low and high watermarks (first offset kept, next offset to be written).
    package func watermarks(_ tp: TopicPartition, timeoutMilliseconds: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "could not query the watermarks of \(tp)") }
        return (low, high)
    }

    /// Watermarks as last seen in fetch responses, without asking the broker (`nil` if none seen yet).
    /// The high watermark is fresh while the partition is being fetched; good enough for lag gauges.
    package func cachedWatermarks(_ tp: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(handle, tp.topic, tp.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// The offset of the next message `poll` will return for `tp`: the start offset given by `onAssign` until a
    /// message is returned, then the last returned offset + 1. `nil` if unknown (not assigned, or started from
    /// the committed offset / `auto.offset.reset` and nothing consumed yet).
    package func position(_ tp: TopicPartition) -> Int64? {
        if let known = state.position(tp) { return known }
        guard state.assignment.contains(tp) else { return nil }
        let list = PartitionList([tp])
        guard rd_kafka_position(handle, list.pointer) == RD_KAFKA_RESP_ERR_NO_ERROR,
              let offset = list.elements.first?.offset, offset >= 0 else { return nil }
        return offset
    }

    /// Moves the fetch position of assigned partitions, e.g. to re-read a batch whose database transaction
    /// rolled back. Discards messages already fetched for them; the next `poll` returns `offsets[tp]` first.
    ///
    /// The seek is asynchronous (librdkafka 2.0.2 mis-scales the timeout of a synchronous seek).
    /// - Throws: if a partition is not currently assigned.
    package func seek(_ offsets: [TopicPartition: Int64]) throws(KafkaError) {
        let owned = Set(state.assignment)
        if let stranger = offsets.keys.first(where: { !owned.contains($0) }) {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__STATE.rawValue, message: "cannot seek \(stranger): it is not assigned to this consumer")
        }
        guard !offsets.isEmpty else { return }
        let list = PartitionList(Array(offsets.keys), offsets: offsets)
        if let error = rd_kafka_seek_partitions(handle, list.pointer, 0) {
            let err = rd_kafka_error_code(error)
            rd_kafka_error_destroy(error)
            throw KafkaError(err, "could not seek \(offsets.keys.map(\.description).sorted().joined(separator: ", "))")
        }
        state.setPositions(offsets)
    }

    /// Stops fetching every assigned partition (the group membership stays alive while `poll` is called).
    /// A new assignment after a rebalance starts unpaused.
    package func pause() throws(KafkaError) {
        try pauseOrResume(pause: true)
    }

    /// Resumes fetching every assigned partition, from the position after the last message returned.
    package func resume() throws(KafkaError) {
        try pauseOrResume(pause: false)
    }

    /// Leaves the group cleanly (running `onRevoke`) and stops fetching. Idempotent; `deinit` calls it too.
    package func close() {
        guard state.markClosed() else { return }
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer did not close cleanly", metadata: ["error": "\(KafkaError(err, "close"))"])
        }
    }

    private func pauseOrResume(pause: Bool) throws(KafkaError) {
        let partitions = state.assignment
        guard !partitions.isEmpty else { return }
        let list = PartitionList(partitions)
        _ = pause ? rd_kafka_pause_partitions(handle, list.pointer) : rd_kafka_resume_partitions(handle, list.pointer)
        if let failed = list.elements.first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            throw KafkaError(failed.error, "could not \(pause ? "pause" : "resume") \(failed.partition)")
        }
    }

    private func reportConsumeError(_ message: UnsafeMutablePointer<rd_kafka_message_t>) throws(KafkaError) {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
        let detail = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
        if err == RD_KAFKA_RESP_ERR__FATAL { try throwIfFatal() }
        var metadata: Logger.Metadata = ["error": "\(String(cString: rd_kafka_err2name(err)))"]
        if let topic = message.pointee.rkt {
            metadata["partition"] = "\(String(cString: rd_kafka_topic_name(topic)))[\(message.pointee.partition)]"
        }
        logger.warning("consume error (will keep trying): \(detail)", metadata: metadata)
    }

    private func throwIfFatal() throws(KafkaError) {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        let detail = cString(buffer)
        throw KafkaError(code: err.rawValue, message: "fatal consumer error, the consumer must be recreated: \(detail)")
    }
}

extension KafkaMessage {
    /// Copies a successfully consumed librdkafka message.
    init(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
        let key = m.key.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let payload = m.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        let timestamp = rd_kafka_message_timestamp(message, nil)
        self.init(topic: topic, partition: m.partition, offset: m.offset, key: key, payload: payload,
                  timestamp: timestamp >= 0 ? timestamp : nil)
    }
}
