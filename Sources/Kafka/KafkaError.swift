import CRdKafka

/// An error reported by librdkafka or by this wrapper.
///
/// `code` is the raw value of librdkafka's `rd_kafka_resp_err_t`: negative values are client-side
/// errors (e.g. `-185` `_TIMED_OUT`), positive values are Kafka protocol errors returned by a broker.
package struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Raw `rd_kafka_resp_err_t` value.
    package var code: Int32
    /// What went wrong, in words a person can act on.
    package var message: String

    /// An error with a raw `rd_kafka_resp_err_t` code and a human-readable message.
    package init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(_ err: rd_kafka_resp_err_t, _ context: String) {
        self.init(code: err.rawValue, message: "\(context): \(String(cString: rd_kafka_err2str(err)))")
    }

    /// librdkafka's symbolic name of `code`, e.g. `_TRANSPORT` or `UNKNOWN_TOPIC_OR_PART`.
    package var name: String {
        String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: code)))
    }

    package var description: String { "\(message) [\(name)]" }

    /// The error librdkafka reported last on the calling thread (after a call that returned -1 or NULL).
    static func lastError(_ context: String) -> KafkaError {
        KafkaError(rd_kafka_last_error(), context)
    }

    /// The configuration was rejected by this wrapper before reaching librdkafka.
    static func invalidConfiguration(_ message: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, message: message)
    }
}
