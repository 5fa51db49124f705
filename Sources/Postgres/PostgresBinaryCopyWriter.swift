import CLibPQ

/// Encodes rows in PostgreSQL's binary COPY format and streams them to the server.
///
/// Obtained from ``PostgresConnection/copyIn(_:_:)``. For each row call
/// ``beginRow(fieldCount:)`` and then exactly `fieldCount` `append` calls, in the column order
/// of the COPY statement. Every value must match its column's type exactly (binary COPY does no
/// conversion): `Int64` → `bigint`, `Int32` → `integer`, `Float` → `real`, `Double` → `double
/// precision`, `String` → `text`/`varchar`, bytes → `bytea`, ``appendTimestamp(epochSeconds:)`` →
/// `timestamptz`, ``append(textArray:)`` → `text[]`, ``append(floatArray:)`` → `real[]`.
///
/// Rows are buffered and sent about every megabyte, so memory stays flat for any row count.
/// The writer is only valid inside the `copyIn` body.
package struct PostgresBinaryCopyWriter {
    /// Rows are sent once this many bytes are buffered.
    static let flushThreshold = 1 << 20

    private let connection: OpaquePointer
    private var buffer: [UInt8] = []
    private var fieldsExpected = 0
    private var fieldsWritten = 0
    /// Rows begun so far.
    package private(set) var rowCount = 0

    init(connection: OpaquePointer) {
        self.connection = connection
        buffer.reserveCapacity(Self.flushThreshold + 64 * 1024)
        buffer.append(contentsOf: PostgresBinaryFormat.signature)
        appendInteger(Int32(0))  // flags
        appendInteger(Int32(0))  // header extension length
    }

    /// Starts a row of `fieldCount` values (may send buffered rows to the server).
    package mutating func beginRow(fieldCount: Int) throws(PostgresError) {
        try finishRow()
        guard fieldCount >= 0, fieldCount <= Int(Int16.max) else {
            throw .invalidUsage("a COPY row must have 0...\(Int16.max) fields, not \(fieldCount)")
        }
        if buffer.count >= Self.flushThreshold { try flush() }
        appendInteger(Int16(fieldCount))
        fieldsExpected = fieldCount
        fieldsWritten = 0
        rowCount += 1
    }

    /// A `bigint` value.
    package mutating func append(_ value: Int64) {
        appendField(value)
    }

    /// An `integer` value.
    package mutating func append(_ value: Int32) {
        appendField(value)
    }

    /// A `smallint` value.
    package mutating func append(_ value: Int16) {
        appendField(value)
    }

    /// A `real` value.
    package mutating func append(_ value: Float) {
        appendField(value.bitPattern)
    }

    /// A `double precision` value.
    package mutating func append(_ value: Double) {
        appendField(value.bitPattern)
    }

    /// A `boolean` value.
    package mutating func append(_ value: Bool) {
        appendInteger(Int32(1))
        buffer.append(value ? 1 : 0)
        fieldsWritten += 1
    }

    /// A `text` (or `varchar`) value, UTF-8 encoded.
    package mutating func append(_ value: String) {
        appendText(value)
        fieldsWritten += 1
    }

    /// A `bytea` value: stored verbatim, whatever the bytes are.
    package mutating func append(bytes: [UInt8]) {
        appendInteger(Int32(bytes.count))
        buffer.append(contentsOf: bytes)
        fieldsWritten += 1
    }

    /// A `timestamptz` value from seconds since 1970-01-01 UTC.
    package mutating func appendTimestamp(epochSeconds: Int64) {
        appendTimestamp(epochMicroseconds: epochSeconds &* 1_000_000)
    }

    /// A `timestamptz` value from microseconds since 1970-01-01 UTC.
    package mutating func appendTimestamp(epochMicroseconds: Int64) {
        appendInteger(Int32(8))
        appendInteger(epochMicroseconds &- PostgresBinaryFormat.epochOffsetSeconds &* 1_000_000)
        fieldsWritten += 1
    }

    /// A one-dimensional `text[]` value (an empty array for `[]`).
    package mutating func append(textArray: [String]) {
        let lengthPosition = buffer.count
        appendInteger(Int32(0))  // patched below
        let start = buffer.count
        appendArrayHeader(count: textArray.count, elementOID: PostgresBinaryFormat.textOID)
        for element in textArray { appendText(element) }
        let length = Int32(truncatingIfNeeded: buffer.count - start).bigEndian
        withUnsafeBytes(of: length) { bytes in
            for i in 0..<4 { buffer[lengthPosition + i] = bytes[i] }
        }
        fieldsWritten += 1
    }

    /// A one-dimensional `real[]` value (an empty array for an empty collection).
    package mutating func append(floatArray values: some Collection<Float>) {
        let headerBytes = 12 + (values.isEmpty ? 0 : 8)
        appendInteger(Int32(headerBytes + 8 * values.count))
        appendArrayHeader(count: values.count, elementOID: PostgresBinaryFormat.float4OID)
        for value in values {
            appendInteger(Int32(4))
            appendInteger(value.bitPattern)
        }
        fieldsWritten += 1
    }

    /// SQL NULL.
    package mutating func appendNull() {
        appendInteger(Int32(-1))
        fieldsWritten += 1
    }

    // MARK: - Internals

    @inline(__always)
    /// A length-prefixed UTF-8 string (a text field or a text array element).
    private mutating func appendText(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            appendInteger(Int32(utf8.count))
            buffer.append(contentsOf: utf8)
        }
    }

    /// A one-dimensional array's header after its length: dimensions (0 for an empty array),
    /// no NULL elements, the element type, then the size and lower bound of the dimension.
    private mutating func appendArrayHeader(count: Int, elementOID: Int32) {
        appendInteger(Int32(count == 0 ? 0 : 1))
        appendInteger(Int32(0))
        appendInteger(elementOID)
        if count > 0 {
            appendInteger(Int32(count))
            appendInteger(Int32(1))
        }
    }

    /// One fixed-width field: its length, then its big-endian bytes.
    @inline(__always)
    private mutating func appendField<T: FixedWidthInteger>(_ value: T) {
        appendInteger(Int32(MemoryLayout<T>.size))
        appendInteger(value)
        fieldsWritten += 1
    }

    private mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }

    private func finishRow() throws(PostgresError) {
        guard fieldsWritten == fieldsExpected else {
            throw .invalidUsage(
                "COPY row \(rowCount) has \(fieldsWritten) values but beginRow(fieldCount:) announced \(fieldsExpected)")
        }
    }

    /// Sends the buffered bytes.
    mutating func flush() throws(PostgresError) {
        guard !buffer.isEmpty else { return }
        let sent = buffer.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                PQputCopyData(connection, chars.baseAddress, Int32(chars.count))
            }
        }
        guard sent == 1 else {
            let message = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
            throw PostgresError(
                kind: .statementFailed, message: "sending COPY data failed: \(message)",
                isConnectionBroken: PQstatus(connection) != CONNECTION_OK)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Checks the last row, appends the trailer and sends everything.
    mutating func finish() throws(PostgresError) {
        try finishRow()
        appendInteger(Int16(-1))
        try flush()
    }
}
