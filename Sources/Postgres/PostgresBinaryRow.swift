/// One row of a binary `COPY ... TO STDOUT (FORMAT binary)` stream, with typed field readers.
///
/// The row is a view into libpq's receive buffer: it is valid only during the `copyOut` callback
/// that receives it. Readers take the field's position in the COPY column list and check the
/// field's length against the requested type, so a type mix-up is an error, never garbage.
/// Reading a NULL field with a non-optional reader throws; test ``isNull(_:)`` first when a
/// column is nullable.
package struct PostgresBinaryRow {
    /// Number of fields in the row.
    package let fieldCount: Int
    private let base: UnsafeRawPointer
    /// Pairs (start offset, length or -1 for NULL) per field.
    private let layout: UnsafePointer<Int>

    init(fieldCount: Int, base: UnsafeRawPointer, layout: UnsafePointer<Int>) {
        self.fieldCount = fieldCount
        self.base = base
        self.layout = layout
    }

    /// Whether field `index` is SQL NULL.
    package func isNull(_ index: Int) throws(PostgresError) -> Bool {
        try field(index).length < 0
    }

    /// A `bigint`, `integer` or `smallint` field.
    package func int64(_ index: Int) throws(PostgresError) -> Int64 {
        let (start, length) = try nonNullField(index, "bigint")
        switch length {
        case 8: return Int64(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int64.self))
        case 4: return Int64(Int32(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int32.self)))
        case 2: return Int64(Int16(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int16.self)))
        default: throw mismatch(index, "an integer", length)
        }
    }

    /// An `integer` or `smallint` field.
    package func int32(_ index: Int) throws(PostgresError) -> Int32 {
        let (start, length) = try nonNullField(index, "integer")
        switch length {
        case 4: return Int32(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int32.self))
        case 2: return Int32(Int16(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int16.self)))
        default: throw mismatch(index, "an integer or smallint", length)
        }
    }

    /// A `real` field.
    package func float(_ index: Int) throws(PostgresError) -> Float {
        let (start, length) = try nonNullField(index, "real")
        guard length == 4 else { throw mismatch(index, "a real", length) }
        return Float(bitPattern: UInt32(bigEndian: base.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
    }

    /// A `double precision` or `real` field.
    package func double(_ index: Int) throws(PostgresError) -> Double {
        let (start, length) = try nonNullField(index, "double precision")
        switch length {
        case 8: return Double(bitPattern: UInt64(bigEndian: base.loadUnaligned(fromByteOffset: start, as: UInt64.self)))
        case 4: return Double(try float(index))
        default: throw mismatch(index, "a double precision or real", length)
        }
    }

    /// A `boolean` field.
    package func bool(_ index: Int) throws(PostgresError) -> Bool {
        let (start, length) = try nonNullField(index, "boolean")
        guard length == 1 else { throw mismatch(index, "a boolean", length) }
        return base.load(fromByteOffset: start, as: UInt8.self) != 0
    }

    /// A `text`, `varchar` or other textual field; invalid UTF-8 is repaired with U+FFFD.
    package func string(_ index: Int) throws(PostgresError) -> String {
        let (start, length) = try nonNullField(index, "text")
        return String(decoding: UnsafeRawBufferPointer(start: base + start, count: length), as: UTF8.self)
    }

    /// The raw bytes of any field (e.g. `bytea`).
    package func bytes(_ index: Int) throws(PostgresError) -> [UInt8] {
        let (start, length) = try nonNullField(index, "bytea")
        return Array(UnsafeRawBufferPointer(start: base + start, count: length))
    }

    /// A `timestamptz` (or `timestamp`) field as microseconds since 1970-01-01 UTC.
    package func timestampEpochMicroseconds(_ index: Int) throws(PostgresError) -> Int64 {
        let (start, length) = try nonNullField(index, "timestamptz")
        guard length == 8 else { throw mismatch(index, "a timestamptz", length) }
        let sinceY2K = Int64(bigEndian: base.loadUnaligned(fromByteOffset: start, as: Int64.self))
        return sinceY2K &+ PostgresBinaryFormat.epochOffsetSeconds * 1_000_000
    }

    /// A `timestamptz` (or `timestamp`) field as whole seconds since 1970-01-01 UTC (rounded down).
    package func timestampEpochSeconds(_ index: Int) throws(PostgresError) -> Int64 {
        let microseconds = try timestampEpochMicroseconds(index)
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// A one-dimensional `text[]` (or `varchar[]`) field. NULL elements are rejected.
    package func textArray(_ index: Int) throws(PostgresError) -> [String] {
        var reader = try arrayReader(index, "text[]")
        let (count, _) = try reader.header(maximumCount: reader.remaining)
        var elements: [String] = []
        elements.reserveCapacity(count)
        for position in 0..<count {
            let elementLength = Int(try reader.int32())
            guard elementLength >= 0 else { throw .decoding("field \(index): array element \(position + 1) is NULL") }
            elements.append(String(decoding: try reader.bytes(elementLength), as: UTF8.self))
        }
        return elements
    }

    /// A one-dimensional `real[]` field (empty for an empty array). NULL elements are rejected.
    package func floatArray(_ index: Int) throws(PostgresError) -> [Float] {
        var reader = try arrayReader(index, "real[]")
        let (count, elementType) = try reader.header(maximumCount: reader.remaining / 8)
        guard count == 0 || elementType == PostgresBinaryFormat.float4OID else {
            throw .decoding("field \(index): an array of type \(elementType) where real[] was expected")
        }
        var elements = [Float](repeating: 0, count: count)
        for position in 0..<count {
            guard try reader.int32() == 4 else { throw .decoding("field \(index): array element \(position + 1) is NULL or not a real") }
            elements[position] = Float(bitPattern: UInt32(bitPattern: try reader.int32()))
        }
        return elements
    }

    private func arrayReader(_ index: Int, _ type: String) throws(PostgresError) -> ArrayFieldReader {
        let (start, length) = try nonNullField(index, type)
        return ArrayFieldReader(base: base, cursor: start, end: start + length, index: index, type: type)
    }

    // MARK: - Internals

    @inline(__always)
    private func field(_ index: Int) throws(PostgresError) -> (start: Int, length: Int) {
        guard index >= 0, index < fieldCount else {
            throw .invalidUsage("field \(index) requested from a COPY row of \(fieldCount) fields")
        }
        return (layout[2 * index], layout[2 * index + 1])
    }

    @inline(__always)
    private func nonNullField(_ index: Int, _ type: String) throws(PostgresError) -> (start: Int, length: Int) {
        let field = try field(index)
        guard field.length >= 0 else { throw .decoding("field \(index) is NULL where a \(type) was expected") }
        return field
    }

    private func mismatch(_ index: Int, _ expected: String, _ length: Int) -> PostgresError {
        .decoding("field \(index) holds \(length) bytes, which is not \(expected); check the COPY column types")
    }
}

/// Walks one array field of a binary COPY row: the header, then its elements, never past the field.
private struct ArrayFieldReader {
    let base: UnsafeRawPointer
    var cursor: Int
    let end: Int
    let index: Int
    let type: String

    var remaining: Int { end - cursor }

    mutating func int32() throws(PostgresError) -> Int32 {
        guard cursor + 4 <= end else { throw .decoding("field \(index): truncated array") }
        defer { cursor += 4 }
        return Int32(bigEndian: base.loadUnaligned(fromByteOffset: cursor, as: Int32.self))
    }

    mutating func bytes(_ count: Int) throws(PostgresError) -> UnsafeRawBufferPointer {
        guard cursor + count <= end else { throw .decoding("field \(index): truncated array element") }
        defer { cursor += count }
        return UnsafeRawBufferPointer(start: base + cursor, count: count)
    }

    /// Element count and element type of a one-dimensional array (count 0 for an empty one).
    mutating func header(maximumCount: Int) throws(PostgresError) -> (count: Int, elementType: Int32) {
        let dimensions = try int32()
        _ = try int32()  // has-null flag
        let elementType = try int32()
        if dimensions == 0 { return (0, elementType) }
        guard dimensions == 1 else {
            throw .decoding("field \(index): a \(dimensions)-dimensional array where a one-dimensional \(type) was expected")
        }
        let count = Int(try int32())
        _ = try int32()  // lower bound
        guard count >= 0, count <= maximumCount else { throw .decoding("field \(index): invalid array size \(count)") }
        return (count, elementType)
    }
}
