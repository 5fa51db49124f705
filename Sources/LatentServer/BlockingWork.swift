import Dispatch
import Foundation

/// Runs blocking work (libpq calls, training, the ingest loop) off Swift's cooperative thread
/// pool, which has only as many threads as cores: a blocked cooperative thread would stall the
/// HTTP server and every other service.
package enum BlockingWork {
    /// Runs `body` on `queue` (serial queues keep one connection's calls in order).
    package static func run<T: Sendable>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body` on a thread of its own (for work that lasts the whole life of a service).
    package static func runOnThread<T: Sendable>(named name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}

/// A flag set once from any thread (graceful shutdown) and read from others.
package final class ShutdownFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false

    package init() {}

    package func raise() { lock.withLock { set = true } }

    package var isRaised: Bool { lock.withLock { set } }
}
