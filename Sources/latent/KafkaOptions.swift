import ArgumentParser
import Foundation
import Kafka

/// `--ratings-topic` and `--movies-topic`, defaulting to `LATENT_RATINGS_TOPIC` / `LATENT_MOVIES_TOPIC`, then
/// `ratings` / `movies`. On its own for commands that need topic names but no broker (`dev-broker`).
struct KafkaTopicOptions: ParsableArguments {
    @Option(name: .customLong("ratings-topic"),
            help: ArgumentHelp("Topic of rating events (default: $LATENT_RATINGS_TOPIC, else ratings).", valueName: "topic"))
    var ratingsTopicFlag: String?

    @Option(name: .customLong("movies-topic"),
            help: ArgumentHelp("Topic of movie events (default: $LATENT_MOVIES_TOPIC, else movies).", valueName: "topic"))
    var moviesTopicFlag: String?

    var ratingsTopic: String { resolved(ratingsTopicFlag, env: "LATENT_RATINGS_TOPIC", default: "ratings") }
    var moviesTopic: String { resolved(moviesTopicFlag, env: "LATENT_MOVIES_TOPIC", default: "movies") }

    func validate() throws {
        try Self.validateTopicName(ratingsTopic, source: "--ratings-topic / LATENT_RATINGS_TOPIC")
        try Self.validateTopicName(moviesTopic, source: "--movies-topic / LATENT_MOVIES_TOPIC")
        guard ratingsTopic != moviesTopic else {
            throw ValidationError("--ratings-topic and --movies-topic (or LATENT_RATINGS_TOPIC and LATENT_MOVIES_TOPIC) must differ, both are \"\(ratingsTopic)\"")
        }
    }

    /// Kafka's rule: 1 to 249 characters among ASCII letters, digits, `.`, `_` and `-`, and not `.` or `..`.
    static func validateTopicName(_ name: String, source: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard !name.isEmpty, name.utf8.count <= 249, allowed, name != ".", name != ".." else {
            throw ValidationError(
                "invalid Kafka topic name \"\(name)\" (from \(source)): use 1-249 characters among letters, digits, '.', '_' and '-'")
        }
    }
}

/// Where and how to reach Kafka: shared by the commands that produce or consume (`ingest`, `produce`).
///
/// librdkafka settings come from, lowest precedence first: `LATENT_KAFKA_OPTION_<NAME>` environment variables
/// (`NAME` lower-cased, `_` → `.`: `LATENT_KAFKA_OPTION_SECURITY_PROTOCOL=SASL_SSL` sets `security.protocol`),
/// the `--kafka-config` properties file, then `--kafka-option name=value` flags. `bootstrap.servers` is
/// `--brokers`, else `LATENT_KAFKA_BROKERS`, else a `bootstrap.servers` from those settings.
struct KafkaOptions: ParsableArguments {
    @Option(name: .customLong("brokers"),
            help: ArgumentHelp("Kafka bootstrap servers, host:port[,host:port...] (default: $LATENT_KAFKA_BROKERS).",
                               valueName: "servers"))
    var brokersFlag: String?

    @OptionGroup var topics: KafkaTopicOptions

    @Option(name: .customLong("consumer-group"),
            help: ArgumentHelp("Kafka consumer group id (default: $LATENT_CONSUMER_GROUP, else latent-ingest).", valueName: "id"))
    var consumerGroupFlag: String?

    @Option(name: .customLong("kafka-option"), parsing: .singleValue,
            help: ArgumentHelp("A librdkafka setting, e.g. security.protocol=SASL_SSL; repeatable. "
                + "Also read from $LATENT_KAFKA_OPTION_<NAME> (NAME upper-cased, '.' as '_').", valueName: "name=value"))
    var kafkaOptionFlags: [String] = []

    @Option(name: .customLong("kafka-config"),
            help: ArgumentHelp("A librdkafka properties file: name=value lines, # comments.", valueName: "file"))
    var kafkaConfigFile: String?

    var ratingsTopic: String { topics.ratingsTopic }
    var moviesTopic: String { topics.moviesTopic }
    var consumerGroup: String { resolved(consumerGroupFlag, env: "LATENT_CONSUMER_GROUP", default: "latent-ingest") }

    /// The bootstrap servers, or nil if none were given anywhere.
    var brokers: String? {
        if let flag = brokersFlag?.trimmingCharacters(in: .whitespaces), !flag.isEmpty { return flag }
        if let env = ProcessInfo.processInfo.environment["LATENT_KAFKA_BROKERS"]?.trimmingCharacters(in: .whitespaces),
           !env.isEmpty { return env }
        return (try? extraSettings())?["bootstrap.servers"]
    }

    func validate() throws {
        let extra = try extraSettings()
        guard let brokers else {
            throw ValidationError("no Kafka brokers given: pass --brokers host:port or set LATENT_KAFKA_BROKERS "
                + "(`latent dev-broker` starts a local one and prints its address)")
        }
        for server in brokers.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = server.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.contains(" "), let colon = trimmed.lastIndex(of: ":"),
                  let port = Int(trimmed[trimmed.index(after: colon)...]), (1...65535).contains(port),
                  colon != trimmed.startIndex
            else {
                throw ValidationError("invalid Kafka broker address \"\(server)\" in \"\(brokers)\": expected host:port[,host:port...]")
            }
        }
        guard !consumerGroup.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("the consumer group (--consumer-group / LATENT_CONSUMER_GROUP) is empty")
        }
        if extra["group.id"] != nil {
            throw ValidationError("set the consumer group with --consumer-group or LATENT_CONSUMER_GROUP, not as the librdkafka option group.id")
        }
    }

    /// Every librdkafka setting, including `bootstrap.servers`. Call after validation (ArgumentParser does).
    func librdkafkaOptions() -> [String: String] {
        var settings = (try? extraSettings()) ?? [:]
        if let brokers { settings["bootstrap.servers"] = brokers }
        return settings
    }

    /// The settings for logs: secret values (passwords, SASL, keys) replaced by `<redacted>`.
    var redactedDescription: String { KafkaConfiguration.redacted(librdkafkaOptions()) }

    /// Environment, then file, then flags.
    private func extraSettings() throws -> [String: String] {
        var settings: [String: String] = [:]
        let prefix = "LATENT_KAFKA_OPTION_"
        for (variable, value) in ProcessInfo.processInfo.environment where variable.hasPrefix(prefix) {
            let name = variable.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
            guard !name.isEmpty else { throw ValidationError("environment variable \(variable) names no librdkafka option") }
            settings[name] = value
        }
        if let kafkaConfigFile {
            for (name, value) in try Self.readPropertiesFile(kafkaConfigFile) { settings[name] = value }
        }
        for flag in kafkaOptionFlags {
            guard let equals = flag.firstIndex(of: "=") else {
                throw ValidationError("--kafka-option \"\(Self.nameOnly(flag))\" must be name=value, e.g. security.protocol=SASL_SSL")
            }
            let name = flag[..<equals].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw ValidationError("--kafka-option has an empty name before '='") }
            settings[name] = String(flag[flag.index(after: equals)...])
        }
        return settings
    }

    /// Parses `name=value` lines; blank lines and lines starting with `#` are skipped.
    static func readPropertiesFile(_ path: String) throws -> [String: String] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read the Kafka config file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("the Kafka config file \(path) is not UTF-8 text")
        }
        var settings: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "="),
                  case let name = line[..<equals].trimmingCharacters(in: .whitespaces), !name.isEmpty
            else {
                // Never echo the line: it may hold a secret.
                throw ValidationError("\(path):\(index + 1): expected name=value (or a # comment)")
            }
            settings[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return settings
    }

    /// The part of a malformed option safe to show (it has no '=', but may still be a pasted secret).
    private static func nameOnly(_ flag: String) -> String {
        flag.count <= 64 && !KafkaConfiguration.isSecret(flag) ? flag : "\(flag.prefix(8))…"
    }
}

/// The flag if given, else the environment variable if set and not empty, else the default.
private func resolved(_ flag: String?, env: String, default fallback: String) -> String {
    if let flag, !flag.isEmpty { return flag }
    return environmentValue(env) ?? fallback
}
