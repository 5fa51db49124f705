import Foundation

/// What `/ready` reports about the services of this process. `@unchecked Sendable`: every
/// field is guarded by `lock`.
package final class ServerHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var ingest: String = "starting"
    private var ingestRunning = false
    private var lastCycle: String?

    package init() {}

    func ingestStarted() { lock.withLock { ingestRunning = true; ingest = "running" } }

    func ingestEnded(_ state: String) { lock.withLock { ingestRunning = false; ingest = state } }

    func cycleFinished(_ summary: String) { lock.withLock { lastCycle = summary } }

    /// Whether the consumer is running, and its state in words.
    var ingestState: (running: Bool, state: String) { lock.withLock { (ingestRunning, ingest) } }

    var lastCycleSummary: String? { lock.withLock { lastCycle } }
}
