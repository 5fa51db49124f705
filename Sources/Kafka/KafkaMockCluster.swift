import CRdKafka
import Logging

/// librdkafka's in-process mock Kafka cluster (`rdkafka_mock.h`), listening on loopback.
///
/// It speaks the real wire protocol (produce, fetch, consumer groups, offset commits) and supports fault
/// injection, so clients in this or another process can use it like a broker. Limits measured with
/// librdkafka 2.0.2: each partition keeps only ~5 MB or 100,000 message sets (older sets are dropped and the
/// low watermark moves up), a first group join waits 3 s, and a join into a non-empty group waits up to
/// `session.timeout.ms` − 1 s for members that died without leaving.
///
/// `@unchecked Sendable`: the mock cluster API is thread-safe (each call is an operation sent to the
/// cluster's own thread); the handles are destroyed only in `deinit`.
package final class KafkaMockCluster: @unchecked Sendable {
    /// The client handle the cluster lives in; it must outlive the cluster.
    private let host: OpaquePointer
    private let cluster: OpaquePointer

    /// Starts a cluster of `brokers` brokers (ids 1...brokers), each on its own loopback port.
    package init(brokers: Int = 1) throws(KafkaError) {
        guard brokers >= 1, brokers <= 64 else {
            throw KafkaError.invalidConfiguration("a mock cluster needs 1 to 64 brokers, got \(brokers)")
        }
        // The host handle never connects anywhere: silence its "no bootstrap.servers" notice.
        let settings = [("client.id", "latent-mock-cluster"), ("log_level", "4")]
        host = try makeHandle(RD_KAFKA_PRODUCER, try makeConfiguration(settings), options: settings)
        guard let cluster = rd_kafka_mock_cluster_new(host, Int32(brokers)) else {
            rd_kafka_destroy(host)
            throw KafkaError(code: RD_KAFKA_RESP_ERR__FAIL.rawValue,
                             message: "could not start the mock Kafka cluster (see the librdkafka log)")
        }
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }

    /// Comma-separated `host:port` list for `bootstrap.servers`, e.g. `127.0.0.1:40123`.
    package var bootstrapServers: String {
        String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    /// Creates a topic (replication factor 1). Creating an existing topic fails with `TOPIC_ALREADY_EXISTS`.
    package func createTopic(_ name: String, partitions: Int32) throws(KafkaError) {
        guard partitions >= 1 else {
            throw KafkaError.invalidConfiguration("topic \"\(name)\" needs at least one partition, got \(partitions)")
        }
        let err = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, "could not create mock topic \"\(name)\" with \(partitions) partition(s)")
        }
    }

    /// Disconnects broker `id` and refuses new connections until `setBrokerUp` (partition leadership does not move).
    package func setBrokerDown(_ id: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_down(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "could not take mock broker \(id) down") }
    }

    /// Lets broker `id` accept connections again, on the same port.
    package func setBrokerUp(_ id: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_up(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "could not bring mock broker \(id) up") }
    }

    /// Makes the next `errors.count` requests with Kafka API key `apiKey` (e.g. 0 Produce, 1 Fetch,
    /// 8 OffsetCommit, 11 JoinGroup) fail, in order, with the given `rd_kafka_resp_err_t` codes.
    package func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, buffer.count, buffer.baseAddress)
        }
    }
}
