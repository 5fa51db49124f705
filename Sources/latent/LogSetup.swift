import Foundation
import Logging

/// Process-wide logging: swift-log to standard error, level from `LATENT_LOG_LEVEL`
/// (trace, debug, info, notice, warning, error, critical; default info).
enum LogSetup {
    static func bootstrap() {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["LATENT_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
