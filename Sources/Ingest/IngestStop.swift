import Foundation

/// A stop request shared between a signal handler and the ingest loop.
///
/// The first request asks for a graceful stop (finish and commit the batch in flight, then
/// return); a second one forces the stop (give up a batch that cannot be written, e.g. while
/// PostgreSQL is down; nothing uncommitted is lost, it is read again next time).
///
/// `@unchecked Sendable`: all state is guarded by `lock`.
public final class IngestStop: @unchecked Sendable {
    private let lock = NSLock()
    private var requests = 0

    public init() {}

    /// Records one stop request (call it from a signal handler's queue).
    public func request() {
        lock.lock()
        requests += 1
        lock.unlock()
    }

    /// Forces the stop, whatever was requested before (a second signal, a cancelled task).
    public func force() {
        lock.lock()
        requests = max(requests + 1, 2)
        lock.unlock()
    }

    public var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requests > 0
    }

    public var isForced: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requests > 1
    }
}
