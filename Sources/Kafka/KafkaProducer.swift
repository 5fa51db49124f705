import CRdKafka
import Foundation
import Logging

/// A Kafka producer: a thin owner of a librdkafka producer handle.
///
/// `send` hands the message to librdkafka's queue (copying key and value) and returns; librdkafka batches
/// and delivers in its own threads. Delivery failures are counted and reported by the next `flush`.
///
/// `@unchecked Sendable`: `rd_kafka_t` is thread-safe for producing, the topic-handle cache and the
/// delivery-failure record are guarded by locks, and the handle is destroyed only in `deinit`.
package final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let deliveryState: DeliveryState
    private let topicsLock = NSLock()
    private var topics: [String: OpaquePointer] = [:]
    private let logger = Logger(label: "latent.kafka.producer")

    /// Creates a producer.
    /// - Parameter options: librdkafka configuration properties, e.g. `bootstrap.servers`,
    ///   `security.protocol`, `linger.ms`. Secret values are never logged.
    package init(options: [String: String]) throws(KafkaError) {
        let state = DeliveryState()
        let settings = options.sorted { $0.key < $1.key }
        let conf = try makeConfiguration(settings)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(state).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque, message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
            let state = Unmanaged<DeliveryState>.fromOpaque(opaque).takeUnretainedValue()
            let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            state.record(KafkaError(message.pointee.err, "delivery to \(topic)[\(message.pointee.partition)] failed"))
        }
        handle = try makeHandle(RD_KAFKA_PRODUCER, conf, options: settings)
        deliveryState = state
        logger.debug("producer created", metadata: ["options": "\(KafkaConfiguration.redacted(options))"])
    }

    deinit {
        let pending = rd_kafka_outq_len(handle)
        if pending > 0 {
            logger.warning("producer destroyed with \(pending) undelivered message(s); call flush() before dropping it")
        }
        for topic in topics.values { rd_kafka_topic_destroy(topic) }
        rd_kafka_destroy(handle)
    }

    /// Queues one message. Blocks (serving delivery reports) while librdkafka's local queue is full,
    /// which is the producer's back-pressure.
    /// - Parameters:
    ///   - partition: explicit partition, or `nil` to let the partitioner choose from the key.
    package func send(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) throws(KafkaError) {
        let topicHandle = try self.topicHandle(topic)
        let target = partition ?? RD_KAFKA_PARTITION_UA
        while true {
            let result = value.withUnsafeBytes { valueBytes in
                withOptionalBytes(key) { keyBytes in
                    rd_kafka_produce(topicHandle, target, RD_KAFKA_MSG_F_COPY,
                                     UnsafeMutableRawPointer(mutating: valueBytes.baseAddress), valueBytes.count,
                                     keyBytes.baseAddress, keyBytes.count, nil)
                }
            }
            if result == 0 { break }
            let err = rd_kafka_last_error()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw KafkaError(err, "could not queue a message for \(topic)")
            }
            rd_kafka_poll(handle, 10)  // serve delivery reports to free queue space
        }
        // Serve delivery reports now and then: polling on every send costs a third of the throughput.
        if deliveryState.countSend() { rd_kafka_poll(handle, 0) }
    }

    /// Waits until every queued message is delivered (or failed), then reports failures since the last flush.
    /// - Throws: `_TIMED_OUT` if messages are still in flight after the timeout, or the first delivery error
    ///   with the number of failed messages.
    package func flush(timeoutMilliseconds: Int32) throws(KafkaError) {
        let err = rd_kafka_flush(handle, timeoutMilliseconds)
        if let failure = deliveryState.takeFailure() {
            throw KafkaError(code: failure.first.code,
                             message: "\(failure.count) message(s) were not delivered; first: \(failure.first.message)")
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(code: err.rawValue,
                             message: "\(rd_kafka_outq_len(handle)) message(s) still undelivered after \(timeoutMilliseconds) ms")
        }
    }

    private func topicHandle(_ name: String) throws(KafkaError) -> OpaquePointer {
        topicsLock.lock()
        defer { topicsLock.unlock() }
        if let existing = topics[name] { return existing }
        guard let created = rd_kafka_topic_new(handle, name, nil) else {
            throw KafkaError.lastError("could not create a handle for topic \"\(name)\"")
        }
        topics[name] = created
        return created
    }
}

/// Delivery failures reported by librdkafka's delivery-report callback (called from `rd_kafka_poll`/`flush`).
private final class DeliveryState: @unchecked Sendable {
    private let lock = NSLock()
    private var failureCount = 0
    private var firstFailure: KafkaError?
    private var sendsSincePoll = 0

    /// Counts one send; true every 1024th, when the caller should poll.
    func countSend() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        sendsSincePoll += 1
        guard sendsSincePoll >= 1024 else { return false }
        sendsSincePoll = 0
        return true
    }

    func record(_ error: KafkaError) {
        lock.lock()
        defer { lock.unlock() }
        failureCount += 1
        if firstFailure == nil { firstFailure = error }
    }

    func takeFailure() -> (count: Int, first: KafkaError)? {
        lock.lock()
        defer { lock.unlock() }
        guard let first = firstFailure else { return nil }
        defer { failureCount = 0; firstFailure = nil }
        return (failureCount, first)
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    return bytes.withUnsafeBytes(body)
}
