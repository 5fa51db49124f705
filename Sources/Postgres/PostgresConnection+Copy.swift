import CLibPQ

extension PostgresConnection {
    /// Bulk-loads rows with binary COPY.
    ///
    /// ```swift
    /// let copied = try connection.copyIn("COPY t (a, b) FROM STDIN (FORMAT binary)") { writer in
    ///     for row in rows {
    ///         try writer.beginRow(fieldCount: 2)
    ///         writer.append(row.a)
    ///         writer.append(row.b)
    ///     }
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - sql: a `COPY ... FROM STDIN (FORMAT binary)` statement.
    ///   - body: writes the rows. When it throws, the COPY is aborted (nothing is inserted) and
    ///     the error is rethrown.
    /// - Returns: the number of rows the server stored.
    /// - Throws: ``PostgresError`` from the server (e.g. a unique violation or a type mismatch,
    ///   reported when the COPY ends), or the error thrown by `body`.
    @discardableResult
    package func copyIn(_ sql: String, _ body: (inout PostgresBinaryCopyWriter) throws -> Void) throws -> Int {
        enterCall()
        defer { leaveCall() }
        let connection = try liveHandle()
        try startCopy(sql, expecting: PGRES_COPY_IN, connection: connection)
        var writer = PostgresBinaryCopyWriter(connection: connection)
        do {
            try body(&writer)
            try writer.finish()
        } catch {
            // Abort: the server discards the rows. When sending failed because the server had
            // already rejected the COPY (e.g. a type mismatch in the first rows), its error is
            // the useful one.
            _ = PQputCopyEnd(connection, "COPY aborted by the client")
            let serverError = firstResultError(connection)
            if let sendError = error as? PostgresError, sendError.kind == .statementFailed, sendError.sqlState == nil,
               let serverError, serverError.sqlState != SQLState.queryCanceled {
                throw serverError
            }
            throw error
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw connectionError(connection) }
        return try finishCopy(connection)
    }

    /// Streams the rows of a `COPY ... TO STDOUT (FORMAT binary)` statement to `row`, one at a
    /// time, without materialising the result.
    ///
    /// - Parameters:
    ///   - sql: e.g. `COPY (SELECT user_id, rating FROM t) TO STDOUT (FORMAT binary)`.
    ///   - row: called for every row; the row is valid only during the call. When it throws, the
    ///     statement is cancelled and the error is rethrown.
    package func copyOut(_ sql: String, _ row: (PostgresBinaryRow) throws -> Void) throws {
        enterCall()
        defer { leaveCall() }
        let connection = try liveHandle()
        try startCopy(sql, expecting: PGRES_COPY_OUT, connection: connection)
        let parser = BinaryCopyParser()
        var failure: (any Error)?
        while true {
            var chunk: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(connection, &chunk, 0)
            if length > 0, let chunk {
                if failure == nil {
                    do {
                        try parser.consume(UnsafeRawBufferPointer(start: chunk, count: Int(length)), row)
                    } catch {
                        failure = error
                        cancelRunningStatement(connection)
                    }
                }
                PQfreemem(chunk)
            } else if length == -1 {
                break  // COPY done; the final result follows
            } else {
                if let chunk { PQfreemem(chunk) }
                let error = connectionError(connection)
                drainResults(connection)
                throw failure ?? error
            }
        }
        if let failure {
            drainResults(connection)
            throw failure
        }
        _ = try finishCopy(connection)
        try parser.finish()
    }

    // MARK: - Internals

    private func startCopy(_ sql: String, expecting expected: ExecStatusType, connection: OpaquePointer) throws(PostgresError) {
        guard let result = PQexec(connection, sql) else { throw connectionError(connection) }
        let status = PQresultStatus(result)
        if status == expected {
            PQclear(result)
            return
        }
        let direction = expected == PGRES_COPY_IN ? "copyIn needs COPY ... FROM STDIN" : "copyOut needs COPY ... TO STDOUT"
        switch status {
        case PGRES_COPY_IN:
            throw abandonCopy(result, connection: connection, "\(direction) (FORMAT binary), not COPY ... FROM STDIN")
        case PGRES_COPY_OUT:
            throw abandonCopy(result, connection: connection, "\(direction) (FORMAT binary), not COPY ... TO STDOUT")
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            PQclear(result)
            throw .invalidUsage("\(direction) (FORMAT binary); the statement was not a COPY")
        default:
            let error = resultError(result, connection: connection)
            PQclear(result)
            throw error
        }
    }

    /// Reads the results that follow a COPY; returns the row count of the COPY command.
    private func finishCopy(_ connection: OpaquePointer) throws(PostgresError) -> Int {
        var count = 0
        var firstError: PostgresError?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if firstError == nil {
                firstError = resultError(result, connection: connection)
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        return count
    }

    /// Consumes the pending results and returns the first error among them.
    private func firstResultError(_ connection: OpaquePointer) -> PostgresError? {
        var firstError: PostgresError?
        while let result = PQgetResult(connection) {
            let status = PQresultStatus(result)
            if firstError == nil, status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK {
                firstError = resultError(result, connection: connection)
            }
            PQclear(result)
        }
        return firstError
    }

    /// Asks the server to stop the running statement (used to end a COPY OUT early).
    private func cancelRunningStatement(_ connection: OpaquePointer) {
        guard let cancel = PQgetCancel(connection) else { return }
        var message = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &message, Int32(message.count))
        PQfreeCancel(cancel)
    }
}

/// Splits a binary COPY stream into rows, tolerating rows split across chunks.
private final class BinaryCopyParser {
    private var pending: [UInt8] = []
    private var headerSeen = false
    private var trailerSeen = false
    /// (start, length) pairs, reused for every row.
    private var layout: UnsafeMutablePointer<Int>
    private var layoutCapacity = 64

    init() {
        layout = .allocate(capacity: 2 * layoutCapacity)
    }

    deinit { layout.deallocate() }

    func consume(_ chunk: UnsafeRawBufferPointer, _ row: (PostgresBinaryRow) throws -> Void) throws {
        if pending.isEmpty {
            let used = try parse(chunk, row)
            if used < chunk.count { pending.append(contentsOf: chunk[used...]) }
        } else {
            pending.append(contentsOf: chunk)
            let used = try pending.withUnsafeBytes { bytes in try parse(bytes, row) }
            pending.removeFirst(used)
        }
    }

    func finish() throws(PostgresError) {
        guard trailerSeen, pending.isEmpty else {
            throw .decoding("the binary COPY stream ended before its trailer (\(pending.count) bytes left over)")
        }
    }

    /// Parses complete rows from `data`; returns the bytes used.
    private func parse(_ data: UnsafeRawBufferPointer, _ row: (PostgresBinaryRow) throws -> Void) throws -> Int {
        guard let base = data.baseAddress else { return 0 }
        let count = data.count
        var position = 0
        if !headerSeen {
            guard count >= PostgresBinaryFormat.headerLength else { return 0 }
            guard data.prefix(11).elementsEqual(PostgresBinaryFormat.signature) else {
                throw PostgresError.decoding("not a binary COPY stream (missing PGCOPY signature); add (FORMAT binary)")
            }
            let flags = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 11, as: UInt32.self))
            guard flags & (1 << 16) == 0 else { throw PostgresError.decoding("binary COPY with OIDs is not supported") }
            let extensionLength = Int(Int32(bigEndian: base.loadUnaligned(fromByteOffset: 15, as: Int32.self)))
            guard count >= PostgresBinaryFormat.headerLength + extensionLength else { return 0 }
            position = PostgresBinaryFormat.headerLength + extensionLength
            headerSeen = true
        }
        while position < count {
            guard !trailerSeen else { throw PostgresError.decoding("data after the binary COPY trailer") }
            guard position + 2 <= count else { return position }
            let fieldCount = Int(Int16(bigEndian: base.loadUnaligned(fromByteOffset: position, as: Int16.self)))
            if fieldCount == -1 {
                trailerSeen = true
                position += 2
                continue
            }
            guard fieldCount >= 0 else { throw PostgresError.decoding("invalid field count \(fieldCount) in COPY stream") }
            if fieldCount > layoutCapacity {
                layout.deallocate()
                layoutCapacity = fieldCount
                layout = .allocate(capacity: 2 * layoutCapacity)
            }
            var cursor = position + 2
            for field in 0..<fieldCount {
                guard cursor + 4 <= count else { return position }
                let length = Int(Int32(bigEndian: base.loadUnaligned(fromByteOffset: cursor, as: Int32.self)))
                cursor += 4
                if length < 0 {
                    layout[2 * field] = cursor
                    layout[2 * field + 1] = -1
                } else {
                    guard cursor + length <= count else { return position }
                    layout[2 * field] = cursor
                    layout[2 * field + 1] = length
                    cursor += length
                }
            }
            try row(PostgresBinaryRow(fieldCount: fieldCount, base: base, layout: layout))
            position = cursor
        }
        return position
    }
}
