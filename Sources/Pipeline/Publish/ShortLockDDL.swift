import Foundation
import Logging
import Postgres

/// Runs DDL that needs a lock readers also take (attach, detach, drop) so that it never
/// queues readers for long: each attempt waits at most `lockTimeout` for its lock, then gives
/// up (and readers that queued behind it go on); it is retried after a pause.
package struct ShortLockDDL: Sendable {
    package var lockTimeoutMilliseconds = 200
    package var attempts = 20
    package var pauseSeconds = 0.25

    package init() {}

    /// Runs `sql` (one statement, outside any transaction) until it gets its lock.
    package func run(_ sql: String, on connection: PostgresConnection, logger: Logger) throws {
        try connection.execute("set lock_timeout = '\(lockTimeoutMilliseconds)ms'")
        do {
            try attempt(sql, on: connection, logger: logger)
        } catch {
            if connection.isConnected { try connection.execute("reset lock_timeout") }
            throw error
        }
        try connection.execute("reset lock_timeout")
    }

    private func attempt(_ sql: String, on connection: PostgresConnection, logger: Logger) throws {
        var attempt = 1
        while true {
            do {
                try connection.execute(sql)
                return
            } catch {
                guard error.sqlState == SQLState.lockNotAvailable, attempt < attempts else { throw error }
            }
            logger.debug("lock not available, retrying", metadata: ["statement": "\(sql)", "attempt": "\(attempt)"])
            Thread.sleep(forTimeInterval: pauseSeconds)
            attempt += 1
        }
    }
}
