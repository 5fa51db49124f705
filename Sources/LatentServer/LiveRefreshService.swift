import Ingest
import Dispatch
import Foundation
import Logging
import Metrics
import Pipeline
import Postgres
import ServiceLifecycle

/// The live path as a service: ingest reports the users each committed batch changed
/// (``hook``); this service refreshes their lists in the serving run. Users that arrive while a
/// refresh runs are gathered and refreshed together next, so it never falls further behind
/// than one refresh.
public final class LiveRefreshService: Service, @unchecked Sendable {
    private let databaseURL: String
    private let listLength: Int
    private let logger: Logger
    private let queue = DispatchQueue(label: "latent.live")
    private let lock = NSLock()
    private var pending = Set<Int64>()
    private var oldestCommit: UInt64?
    private let wake: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation
    private let latency = Metrics.Timer(label: "latent_live_refresh_seconds", preferredDisplayUnit: .seconds)
    private let refreshed = Counter(label: "latent_live_users_refreshed_total")
    private let failures = Counter(label: "latent_live_refresh_failures_total")

    public init(databaseURL: String, listLength: Int, logger: Logger = Logger(label: "latent.live")) {
        self.databaseURL = databaseURL
        self.listLength = listLength
        self.logger = logger
        (wake, wakeContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Give this to ``IngestConfiguration/onBatchCommitted``.
    public var hook: @Sendable (CommittedRatings) -> Void {
        { [self] batch in
            lock.withLock {
                pending.formUnion(batch.userIDs)
                if oldestCommit == nil { oldestCommit = batch.committedAt }
            }
            wakeContinuation.yield()
        }
    }

    public func run() async throws {
        let url = databaseURL, listLength = self.listLength, logger = self.logger
        let refresher = try await BlockingWork.run(on: queue) {
            LiveRefreshConnection(refresher: LiveRefresher(connection: try PostgresConnection(url: url), listLength: listLength, logger: logger))
        }
        for await _ in wake.cancelOnGracefulShutdown() {
            let (users, since) = lock.withLock {
                defer { pending.removeAll(keepingCapacity: true); oldestCommit = nil }
                return (Array(pending), oldestCommit)
            }
            guard !users.isEmpty else { continue }
            await refresh(users, committedAt: since, with: refresher)
        }
    }

    private func refresh(_ users: [Int64], committedAt: UInt64?, with connection: LiveRefreshConnection) async {
        do {
            let report = try await BlockingWork.run(on: queue) { try connection.refresh(users) }
            refreshed.increment(by: report.users)
            if let committedAt, report.runID != nil {
                latency.recordNanoseconds(Int64(clamping: MonotonicClock.nanoseconds() &- committedAt))
            }
        } catch {
            failures.increment()
            logger.error("live refresh failed; these users get their lists at the next refresh or run", metadata: [
                "users": "\(users.count)", "error": "\(error)",
            ])
        }
    }
}

/// The refresher and its connection, used only on the live queue (hence `@unchecked Sendable`);
/// reconnects after the connection broke.
private final class LiveRefreshConnection: @unchecked Sendable {
    let refresher: LiveRefresher

    init(refresher: LiveRefresher) { self.refresher = refresher }

    func refresh(_ users: [Int64]) throws -> LiveRefresher.Report {
        try refresher.reconnectIfNeeded()
        return try refresher.refresh(users: users)
    }
}
