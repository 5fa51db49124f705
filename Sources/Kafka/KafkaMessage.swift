/// A partition of a topic.
package struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    package var topic: String
    package var partition: Int32

    /// Partition `partition` (0-based) of `topic`.
    package init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    package var description: String { "\(topic)[\(partition)]" }
}

/// A message read from Kafka. Key and payload are copied out of librdkafka's buffers, so the value
/// is independent of the consumer that produced it.
package struct KafkaMessage: Sendable {
    package var topic: String
    package var partition: Int32
    package var offset: Int64
    /// `nil` when the message has no key (distinct from an empty key).
    package var key: [UInt8]?
    package var payload: [UInt8]
    /// Milliseconds since the Unix epoch (create or log-append time), `nil` when the broker sent none.
    package var timestamp: Int64?

    /// A message value, e.g. for tests of code that processes consumed messages.
    package init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, payload: [UInt8], timestamp: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.payload = payload
        self.timestamp = timestamp
    }

    /// The partition this message came from.
    package var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
