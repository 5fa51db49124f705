import CRdKafka

/// An owned `rd_kafka_topic_partition_list_t`, destroyed when this value goes away.
final class PartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int) {
        // rd_kafka_topic_partition_list_new aborts on allocation failure, it never returns NULL.
        pointer = rd_kafka_topic_partition_list_new(Int32(clamping: capacity))
    }

    /// Partitions with an offset each (`RD_KAFKA_OFFSET_INVALID` when `offsets` has none for it).
    convenience init(_ partitions: [TopicPartition], offsets: [TopicPartition: Int64] = [:]) {
        self.init(capacity: partitions.count)
        for tp in partitions {
            add(tp, offset: offsets[tp] ?? Int64(RD_KAFKA_OFFSET_INVALID))
        }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    func add(_ tp: TopicPartition, offset: Int64) {
        let element = rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition)
        element?.pointee.offset = offset
    }

    /// Every element as (partition, offset, error code).
    var elements: [(partition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        Self.elements(of: pointer)
    }

    /// Reads a list owned by someone else (e.g. the one a rebalance callback receives).
    static func elements(of list: UnsafePointer<rd_kafka_topic_partition_list_t>?)
        -> [(partition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)]
    {
        guard let list, let elems = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = elems[index]
            let topic = element.topic.map { String(cString: $0) } ?? ""
            return (TopicPartition(topic: topic, partition: element.partition), element.offset, element.err)
        }
    }
}
