import CLibPQ
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

private let noticeLogger = Logger(label: "latent.postgres")

/// One client connection to PostgreSQL through libpq (blocking calls).
///
/// The connection owns its `PGconn` handle and closes it when closed explicitly or released.
///
/// - Important: A connection must not be used concurrently: libpq connections are not
///   thread-safe. Confine each connection to one thread, serial queue or task at a time (ingest
///   gives each writer thread its own; `latent serve`'s HTTP handlers reach theirs through one
///   serial queue). The type is `@unchecked Sendable` only so that it can be *handed over*
///   (opened in one place, then owned by a worker). It enforces the rule instead of locking:
///   every call (`execute`, `query`, `copyIn`, `copyOut`, `reconnect`, `close`) marks the
///   connection busy with an atomic flag, and a call that finds it busy already, from another
///   thread, stops the process with a message saying so, rather than letting libpq corrupt
///   its state.
package final class PostgresConnection: @unchecked Sendable {
    /// Set while a call is inside libpq; the confinement check.
    private let busy = Atomic<Bool>(false)
    private var handle: OpaquePointer?
    private let conninfo: String
    private let database: String?
    private let secrets: [String]
    private var savepointDepth = 0

    /// Opens a connection.
    ///
    /// - Parameter url: a libpq URL (`postgresql://user@host:port/db?sslmode=require`) or a
    ///   key/value conninfo string (`host=... dbname=...`). The client encoding is always UTF8.
    /// - Parameter database: when given, replaces the database named in `url` (for tools and tests
    ///   that work on several databases of one server).
    /// - Throws: ``PostgresError`` of kind `.connectionFailed`; its message never contains the
    ///   password from `url`.
    package init(url: String, database: String? = nil) throws(PostgresError) {
        conninfo = url
        self.database = database
        secrets = ConnectionSecrets.find(in: url)
        try connect()
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Opens a second session with this connection's parameters (the same server, database and
    /// role), for work that runs beside this one; the caller owns it.
    package func sibling() throws(PostgresError) -> PostgresConnection {
        try PostgresConnection(url: conninfo, database: database)
    }

    /// Closes the connection. Later calls fail with a broken-connection error until
    /// ``reconnect()`` is called. Closing twice is harmless.
    package func close() {
        enterCall()
        defer { leaveCall() }
        closeHandle()
    }

    private func closeHandle() {
        if let handle { PQfinish(handle) }
        handle = nil
        savepointDepth = 0
    }

    /// Whether the connection was healthy after the last operation. libpq notices a dead server
    /// only when it talks to it, so this can still be true for a connection that the next
    /// statement will find broken.
    package var isConnected: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Drops the current session (if any) and opens a new one with the same parameters.
    /// Session state (temporary tables, settings, an open transaction) is lost.
    package func reconnect() throws(PostgresError) {
        enterCall()
        defer { leaveCall() }
        closeHandle()
        try connect()
    }

    /// The server's version as an integer, e.g. 150004 for 15.4 (0 when not connected).
    package var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    /// Replaces any password of the connection string in `text` with a mask; use it before logging
    /// anything derived from a connection URL.
    package static func redacting(_ text: String, secretsOf url: String) -> String {
        ConnectionSecrets.scrub(text, secrets: ConnectionSecrets.find(in: url))
    }

    // MARK: - Statements

    /// Runs one or more SQL statements with the simple query protocol and returns the result of
    /// the last one. Use it for DDL, scripts and statements without parameters.
    ///
    /// - Throws: ``PostgresError``; a COPY statement is rejected (use ``copyIn(_:_:)`` or
    ///   ``copyOut(_:_:)``).
    @discardableResult
    package func execute(_ sql: String) throws(PostgresError) -> PostgresResult {
        enterCall()
        defer { leaveCall() }
        let connection = try liveHandle()
        return try check(PQexec(connection, sql), connection: connection)
    }

    /// Runs one statement with text parameters `$1, $2, ...` (extended protocol, so values are
    /// never interpolated into SQL). `nil` binds SQL NULL. Parameter types are inferred by the
    /// server; add casts (`$1::bigint`) where they are ambiguous.
    @discardableResult
    package func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresResult {
        enterCall()
        defer { leaveCall() }
        let connection = try liveHandle()
        guard parameters.count <= Int(Int32.max) else {
            throw .invalidUsage("too many parameters: \(parameters.count)")
        }
        // strdup'd copies: stable C strings for the duration of the call.
        let values: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { for value in values { free(value) } }
        let result = values.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pointers in
                PQexecParams(connection, sql, Int32(parameters.count), nil, pointers.baseAddress, nil, nil, 0)
            }
        }
        return try check(result, connection: connection)
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` when `body` returns, `ROLLBACK` when
    /// it throws (and the error is rethrown).
    ///
    /// Nested calls use savepoints, so an inner failure rolls back only the inner work.
    /// If a statement failed inside `body` but `body` swallowed the error, the server turns the
    /// `COMMIT` into a rollback; this is reported as an error rather than as success.
    @discardableResult
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        let connection = try liveHandle()
        let nested = PQtransactionStatus(connection) != PQTRANS_IDLE
        let savepoint = "latent_savepoint_\(savepointDepth)"
        try execute(nested ? "SAVEPOINT \(savepoint)" : "BEGIN")
        if nested { savepointDepth += 1 }
        let value: T
        do {
            value = try body()
        } catch {
            if nested { savepointDepth -= 1 }
            if isConnected {
                _ = try? execute(nested ? "ROLLBACK TO SAVEPOINT \(savepoint); RELEASE SAVEPOINT \(savepoint)" : "ROLLBACK")
            }
            throw error
        }
        if nested {
            savepointDepth -= 1
            try execute("RELEASE SAVEPOINT \(savepoint)")
        } else {
            let commit = try execute("COMMIT")
            if commit.commandTag == "ROLLBACK" {
                throw PostgresError(
                    kind: .statementFailed,
                    message: "the transaction was rolled back because a statement in it failed (its error was not propagated)")
            }
        }
        return value
    }

    // MARK: - Internals shared with COPY

    /// Marks the connection busy for one call; stops the process when another thread is inside
    /// a call on it (the confinement rule above was broken). Pair with ``leaveCall()``.
    func enterCall() {
        let (entered, _) = busy.compareExchange(expected: false, desired: true, ordering: .acquiring)
        precondition(entered, "PostgresConnection used by two threads at once: confine each connection to one thread or serial queue")
    }

    /// Ends the call ``enterCall()`` began.
    func leaveCall() { busy.store(false, ordering: .releasing) }

    /// The handle, or a broken-connection error when closed.
    func liveHandle() throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(
                kind: .statementFailed, message: "the connection is closed; call reconnect()", isConnectionBroken: true)
        }
        return handle
    }

    /// Wraps a result, turning error statuses into ``PostgresError`` and rejecting stray COPY states.
    func check(_ raw: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) -> PostgresResult {
        guard let raw else { throw connectionError(connection) }
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(owning: raw)
        case PGRES_COPY_IN:
            throw abandonCopy(raw, connection: connection, "COPY ... FROM STDIN must be run with copyIn(_:_:)")
        case PGRES_COPY_OUT:
            throw abandonCopy(raw, connection: connection, "COPY ... TO STDOUT must be run with copyOut(_:_:)")
        default:
            let error = resultError(raw, connection: connection)
            PQclear(raw)
            throw error
        }
    }

    /// Ends a COPY the server entered although the call did not ask for one, so the connection
    /// stays usable, and returns the usage error `message` to throw.
    func abandonCopy(_ result: OpaquePointer, connection: OpaquePointer, _ message: String) -> PostgresError {
        let status = PQresultStatus(result)
        PQclear(result)
        if status == PGRES_COPY_IN {
            _ = PQputCopyEnd(connection, message)
            drainResults(connection)
        } else {
            drainCopyOut(connection)
        }
        return .invalidUsage(message)
    }

    /// The error described by a failed result.
    func resultError(_ result: OpaquePointer, connection: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        var message = field("M") ?? trimmed(String(cString: PQresultErrorMessage(result)))
        if message.isEmpty { message = trimmed(String(cString: PQerrorMessage(connection))) }
        if message.isEmpty { message = "PostgreSQL reported an error without a message" }
        let broken = PQstatus(connection) != CONNECTION_OK || sqlState.map(SQLState.meansConnectionLost) == true
        return PostgresError(
            kind: .statementFailed, message: scrub(message), sqlState: sqlState, detail: field("D").map(scrub),
            hint: field("H"), isConnectionBroken: broken)
    }

    /// The error described by the connection itself (no result available).
    func connectionError(_ connection: OpaquePointer) -> PostgresError {
        var message = trimmed(String(cString: PQerrorMessage(connection)))
        if message.isEmpty { message = "no response from the server" }
        return PostgresError(
            kind: .statementFailed, message: scrub(message),
            isConnectionBroken: PQstatus(connection) != CONNECTION_OK)
    }

    /// Consumes any pending results (after a COPY was ended or aborted).
    func drainResults(_ connection: OpaquePointer) {
        while let result = PQgetResult(connection) { PQclear(result) }
    }

    func drainCopyOut(_ connection: OpaquePointer) {
        var buffer: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(connection, &buffer, 0) >= 0 {
            if let buffer { PQfreemem(buffer) }
            buffer = nil
        }
        drainResults(connection)
    }

    private func connect() throws(PostgresError) {
        // Processed in order, the last value wins: the defaults come before the expanded URL
        // (so the URL can override them), the forced settings after it.
        // A second `dbname` is taken as a plain database name, overriding the URL's.
        // TCP keepalives notice a vanished server within about a minute instead of hours.
        var keywords = [
            "connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "fallback_application_name", "dbname", "client_encoding",
        ]
        var values = ["10", "30", "10", "3", "latent", conninfo, "UTF8"]
        if let database {
            keywords.append("dbname")
            values.append(database)
        }
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connectionFailed, message: "cannot allocate a libpq connection", isConnectionBroken: true)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = trimmed(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            throw PostgresError(
                kind: .connectionFailed, message: "cannot connect to PostgreSQL: \(scrub(reason))", isConnectionBroken: true)
        }
        PQsetNoticeProcessor(connection, { _, message in
            guard let message else { return }
            let text = String(cString: message).trimmingTrailingWhitespace()
            if text.hasPrefix("WARNING") {
                noticeLogger.warning("\(text)")
            } else {
                noticeLogger.debug("\(text)")
            }
        }, nil)
        handle = connection
    }

    private func scrub(_ text: String) -> String {
        ConnectionSecrets.scrub(text, secrets: secrets)
    }

    private func trimmed(_ text: String) -> String {
        text.trimmingTrailingWhitespace()
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the duration of the call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for copy in copies { free(copy) } }
    return copies.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { pointers in
            // The buffer is never empty (it holds at least the terminator).
            body(pointers.baseAddress!)
        }
    }
}
