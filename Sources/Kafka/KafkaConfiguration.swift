import CRdKafka
import Foundation
import Logging

/// Helpers to build librdkafka configurations without leaking secrets into logs or errors.
package enum KafkaConfiguration {
    /// Whether the value of the librdkafka property `name` must never be logged
    /// (passwords, SASL settings, private keys and anything that looks like them).
    package static func isSecret(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered.contains("password") || lowered.contains("sasl") || lowered.contains("ssl.key")
            || lowered.contains("secret") || lowered.contains("token") || lowered.contains("credential")
    }

    /// `name=value` pairs sorted by name, with the values of secret properties replaced by `<redacted>`.
    package static func redacted(_ options: [String: String]) -> String {
        options.keys.sorted().map { name in
            "\(name)=\(isSecret(name) ? "<redacted>" : options[name] ?? "")"
        }.joined(separator: ", ")
    }
}

extension KafkaConfiguration {
    /// `text` with every non-empty secret value of `options` replaced by `<redacted>`; for librdkafka messages
    /// that may quote a configuration value.
    static func scrub(_ text: String, secretsOf options: [(String, String)]) -> String {
        var result = text
        for (name, value) in options where isSecret(name) && !value.isEmpty {
            result = result.replacingOccurrences(of: value, with: "<redacted>")
        }
        return result
    }
}

/// Logger for everything librdkafka reports (its log lines and its error callback).
let librdkafkaLogger = Logger(label: "latent.kafka")

/// Builds an `rd_kafka_conf_t` with `options` applied in order and librdkafka's logging routed to swift-log.
///
/// The caller owns the returned configuration until `rd_kafka_new` succeeds with it.
func makeConfiguration(_ options: [(String, String)]) throws(KafkaError) -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else {
        throw KafkaError.invalidConfiguration("rd_kafka_conf_new failed (out of memory)")
    }
    var errorBuffer = [CChar](repeating: 0, count: 512)
    for (name, value) in options {
        let result = rd_kafka_conf_set(conf, name, value, &errorBuffer, errorBuffer.count)
        guard result == RD_KAFKA_CONF_OK else {
            rd_kafka_conf_destroy(conf)
            // librdkafka's message may quote the value; never echo a secret back.
            let detail = KafkaConfiguration.isSecret(name)
                ? "invalid value for secret property \"\(name)\" (value not shown)"
                : KafkaConfiguration.scrub(cString(errorBuffer), secretsOf: options)
            throw KafkaError.invalidConfiguration("librdkafka configuration rejected: \(detail)")
        }
    }
    rd_kafka_conf_set_log_cb(conf) { rk, level, facility, line in
        let name = rk.map { String(cString: rd_kafka_name($0)) } ?? "rdkafka"
        let text = line.map { String(cString: $0) } ?? ""
        let fac = facility.map { String(cString: $0) } ?? ""
        // Connection failures ("FAIL") also reach the error callback, which logs them once as warnings.
        let level = fac == "FAIL" ? .debug : syslogLevel(level)
        librdkafkaLogger.log(level: level, "\(text)",
                             metadata: ["client": "\(name)", "facility": "\(fac)"])
    }
    rd_kafka_conf_set_error_cb(conf) { rk, err, reason, _ in
        let name = rk.map { String(cString: rd_kafka_name($0)) } ?? "rdkafka"
        let text = reason.map { String(cString: $0) } ?? ""
        let code = rd_kafka_resp_err_t(rawValue: err)
        let isFatal = code == RD_KAFKA_RESP_ERR__FATAL
        librdkafkaLogger.log(level: isFatal ? .error : .warning, "\(text)",
                             metadata: ["client": "\(name)",
                                        "error": "\(String(cString: rd_kafka_err2name(code)))"])
    }
    return conf
}

/// Creates a client handle; takes ownership of `conf` in every case (librdkafka only does on success).
/// `options` (those `conf` was built from) are only used to keep secrets out of the error message.
func makeHandle(_ type: rd_kafka_type_t, _ conf: OpaquePointer,
                options: [(String, String)]) throws(KafkaError) -> OpaquePointer {
    var errorBuffer = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
        rd_kafka_conf_destroy(conf)
        let detail = KafkaConfiguration.scrub(cString(errorBuffer), secretsOf: options)
        throw KafkaError.invalidConfiguration("could not create the Kafka client: \(detail)")
    }
    return handle
}

/// The NUL-terminated text in a C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func syslogLevel(_ level: Int32) -> Logger.Level {
    switch level {
    case ...2: return .critical
    case 3: return .error
    case 4: return .warning
    case 5: return .notice
    case 6: return .info
    default: return .debug
    }
}
