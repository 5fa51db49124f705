import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reports the progress of a long run: one rewritten status line when stderr is a terminal,
/// log lines (swift-log) otherwise.
package struct ProgressReporter: Sendable {
    package let logger: Logger
    /// Draw a live line on the terminal instead of logging each step.
    package let usesTerminal: Bool

    /// `usesTerminal` nil: a live line exactly when stderr is a terminal; `quiet` drops everything.
    package init(label: String, usesTerminal: Bool? = nil, quiet: Bool = false) {
        self.logger = Logger(label: label)
        self.usesTerminal = usesTerminal ?? (isatty(2) == 1)
        self.quiet = quiet
    }

    /// A reporter that says nothing (tests, library use).
    package static let silent = ProgressReporter(label: "latent.silent", usesTerminal: false, quiet: true)

    private let quiet: Bool


    /// Reports one step: `message` with `metadata` (`key=value` on the terminal line).
    package func step(_ message: String, _ metadata: KeyValuePairs<String, String> = [:]) {
        guard !quiet else { return }
        if usesTerminal {
            var line = "\r\u{1B}[2K" + message
            for (key, value) in metadata { line += " \(key)=\(value)" }
            writeToStandardError(line)
        } else {
            var m = Logger.Metadata()
            for (key, value) in metadata { m[key] = .string(value) }
            logger.info("\(message)", metadata: m)
        }
    }

    /// Ends the live line (a newline on the terminal) and logs the final message.
    package func finish(_ message: String, _ metadata: KeyValuePairs<String, String> = [:]) {
        guard !quiet else { return }
        if usesTerminal { writeToStandardError("\r\u{1B}[2K") }
        var m = Logger.Metadata()
        for (key, value) in metadata { m[key] = .string(value) }
        logger.info("\(message)", metadata: m)
    }

    private func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            _ = write(2, base, raw.count)
        }
    }

    /// "1m05s"-style duration for ETA fields.
    package static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format2: (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format2: s % 60))s" }
        if seconds < 10 { return "\((seconds * 10).rounded() / 10)s" }
        return "\(s)s"
    }
}

extension String {
    /// Two-digit zero-padded number.
    init(format2 value: Int) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}
