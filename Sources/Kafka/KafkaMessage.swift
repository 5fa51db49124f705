/// A partition of a topic.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    /// Partition `partition` (0-based) of `topic`.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A message read from Kafka. Key and payload are copied out of librdkafka's buffers, so the value
/// is independent of the consumer that produced it.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// `nil` when the message has no key (distinct from an empty key).
    public var key: [UInt8]?
    public var payload: [UInt8]
    /// Milliseconds since the Unix epoch (create or log-append time), `nil` when the broker sent none.
    public var timestamp: Int64?

    /// A message value, e.g. for tests of code that processes consumed messages.
    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, payload: [UInt8], timestamp: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.payload = payload
        self.timestamp = timestamp
    }

    /// The partition this message came from.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
