import Postgres
import XCTest

final class PostgresCopyTests: XCTestCase {
    private static let allTypes = """
        create temp table everything (
            i8 bigint, i4 int, i2 smallint, f4 real, f8 double precision, b boolean, t text,
            raw bytea, ts timestamptz, tags text[])
        """

    private struct Row: Equatable {
        var i8: Int64?, i4: Int32?, i2: Int16?, f4: Float?, f8: Double?, b: Bool?, t: String?
        var raw: [UInt8]?, ts: Int64?, tags: [String]?
    }

    private let rows: [Row] = [
        Row(i8: Int64.max, i4: Int32.min, i2: -7, f4: 4.5, f8: -1e300, b: true, t: "Toy Story (1995)",
            raw: [0xFF, 0xFE, 0x00, 0xC3, 0x28], ts: 1_700_000_000, tags: ["Adventure", "Animation", "Children's"]),
        Row(i8: -1, i4: 0, i2: 0, f4: -0.5, f8: 0, b: false, t: "", raw: [], ts: -86_400 * 365 * 40, tags: []),
        Row(i8: 0, i4: 1, i2: 1, f4: .greatestFiniteMagnitude, f8: .pi, b: true, t: "日本語 \"quotes\", {braces}\ttab\nnewline",
            raw: Array(0...255), ts: 946_684_800, tags: ["with, comma", "{curly}", "\"quoted\"", "NULL", "", "é"]),
        Row(i8: nil, i4: nil, i2: nil, f4: nil, f8: nil, b: nil, t: nil, raw: nil, ts: nil, tags: nil),
    ]

    func testBinaryRoundTripOfEveryType() throws {
        let connection = try TestDatabase.connect()
        try connection.execute(Self.allTypes)
        let copied = try connection.copyIn("copy everything from stdin (format binary)") { writer in
            for row in rows {
                try writer.beginRow(fieldCount: 10)
                if let v = row.i8 { writer.append(v) } else { writer.appendNull() }
                if let v = row.i4 { writer.append(v) } else { writer.appendNull() }
                if let v = row.i2 { writer.append(v) } else { writer.appendNull() }
                if let v = row.f4 { writer.append(v) } else { writer.appendNull() }
                if let v = row.f8 { writer.append(v) } else { writer.appendNull() }
                if let v = row.b { writer.append(v) } else { writer.appendNull() }
                if let v = row.t { writer.append(v) } else { writer.appendNull() }
                if let v = row.raw { writer.append(bytes: v) } else { writer.appendNull() }
                if let v = row.ts { writer.appendTimestamp(epochSeconds: v) } else { writer.appendNull() }
                if let v = row.tags { writer.append(textArray: v) } else { writer.appendNull() }
            }
        }
        XCTAssertEqual(copied, rows.count)

        // The server sees the values we meant (checked through text, independent of our reader).
        let text = try connection.query("""
            select t, extract(epoch from ts)::bigint, array_length(tags, 1), tags[1], encode(raw, 'hex'), i8
            from everything order by i4 nulls last
            """)
        XCTAssertEqual(text[0, 1], "1700000000")
        XCTAssertEqual(text[0, 3], "Adventure")
        XCTAssertEqual(text[0, 4], "fffe00c328")
        XCTAssertEqual(text[0, 5], String(Int64.max))
        XCTAssertEqual(text[2, 0], rows[2].t)
        XCTAssertEqual(text[2, 2], "6")
        XCTAssertNil(text[1, 2], "an empty array has no length")

        var read: [Row] = []
        try connection.copyOut("copy (select * from everything order by i4 nulls last) to stdout (format binary)") { row in
            XCTAssertEqual(row.fieldCount, 10)
            read.append(Row(
                i8: try row.isNull(0) ? nil : row.int64(0),
                i4: try row.isNull(1) ? nil : row.int32(1),
                i2: try row.isNull(2) ? nil : Int16(row.int32(2)),
                f4: try row.isNull(3) ? nil : row.float(3),
                f8: try row.isNull(4) ? nil : row.double(4),
                b: try row.isNull(5) ? nil : row.bool(5),
                t: try row.isNull(6) ? nil : row.string(6),
                raw: try row.isNull(7) ? nil : row.bytes(7),
                ts: try row.isNull(8) ? nil : row.timestampEpochSeconds(8),
                tags: try row.isNull(9) ? nil : row.textArray(9)))
        }
        // Sorted by i4 nulls last: Int32.min, 0, 1, NULL.
        XCTAssertEqual(read, [rows[0], rows[1], rows[2], rows[3]])
    }

    func testReadersRejectWrongTypesAndNull() throws {
        let connection = try TestDatabase.connect()
        try connection.copyOut("copy (select 1::bigint, null::text, 'x'::text) to stdout (format binary)") { row in
            XCTAssertEqual(try row.int64(0), 1)
            XCTAssertThrowsError(try row.float(0)) { XCTAssertEqual(($0 as? PostgresError)?.kind, .decodingFailed) }
            XCTAssertThrowsError(try row.int32(0))
            XCTAssertThrowsError(try row.string(1))
            XCTAssertTrue(try row.isNull(1))
            XCTAssertThrowsError(try row.int64(7)) { XCTAssertEqual(($0 as? PostgresError)?.kind, .invalidUsage) }
        }
    }

    func testTimestampsKeepMicrosecondsAndRoundDown() throws {
        let connection = try TestDatabase.connect()
        try connection.copyOut("""
            copy (select '1969-12-31 23:59:59.5+00'::timestamptz, '2024-01-01 00:00:00.25+00'::timestamptz)
            to stdout (format binary)
            """) { row in
            XCTAssertEqual(try row.timestampEpochSeconds(0), -1)
            XCTAssertEqual(try row.timestampEpochMicroseconds(0), -500_000)
            XCTAssertEqual(try row.timestampEpochSeconds(1), 1_704_067_200)
            XCTAssertEqual(try row.timestampEpochMicroseconds(1), 1_704_067_200_250_000)
        }
    }

    func testManyRowsAcrossFlushes() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table r (u int, m int, rating real, ts bigint)")
        let count = 300_000
        let copied = try connection.copyIn("copy r from stdin (format binary)") { writer in
            for i in 0..<count {
                try writer.beginRow(fieldCount: 4)
                writer.append(Int32(i))
                writer.append(Int32(i % 1000))
                writer.append(Float(i % 10) * 0.5)
                writer.append(Int64(i) * 3)
            }
            XCTAssertEqual(writer.rowCount, count)
        }
        XCTAssertEqual(copied, count)
        var seen = 0
        var sum: Int64 = 0
        try connection.copyOut("copy r to stdout (format binary)") { row in
            seen += 1
            sum += Int64(try row.int32(0))
            XCTAssertEqual(try row.int64(3), Int64(try row.int32(0)) * 3)
        }
        XCTAssertEqual(seen, count)
        XCTAssertEqual(sum, Int64(count) * Int64(count - 1) / 2)
    }

    func testEmptyCopies() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table e (id bigint)")
        XCTAssertEqual(try connection.copyIn("copy e from stdin (format binary)") { _ in }, 0)
        var seen = 0
        try connection.copyOut("copy e to stdout (format binary)") { _ in seen += 1 }
        XCTAssertEqual(seen, 0)
    }

    func testFailingBodyAbortsCopyAndKeepsConnectionUsable() throws {
        struct Stop: Error {}
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table r (id bigint)")
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binary)") { writer in
            for i in 0..<10 {
                try writer.beginRow(fieldCount: 1)
                writer.append(Int64(i))
            }
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try connection.query("select count(*) from r")[0, 0], "0")

        try connection.execute("insert into r select generate_series(1, 200000)")
        var seen = 0
        XCTAssertThrowsError(try connection.copyOut("copy r to stdout (format binary)") { _ in
            seen += 1
            if seen == 5 { throw Stop() }
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(seen, 5)
        XCTAssertEqual(try connection.query("select count(*) from r")[0, 0], "200000")
    }

    func testFieldCountMismatchIsReportedClearly() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table r (a bigint, b bigint)")
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binary)") { writer in
            try writer.beginRow(fieldCount: 2)
            writer.append(Int64(1))
            try writer.beginRow(fieldCount: 2)
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .invalidUsage)
        }
        XCTAssertEqual(try connection.execute("select 1")[0, 0], "1")
    }

    func testServerSideCopyErrorsCarrySQLState() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table r (id bigint primary key)")
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binary)") { writer in
            for _ in 0..<2 {
                try writer.beginRow(fieldCount: 1)
                writer.append(Int64(1))
            }
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.uniqueViolation)
        }
        // Wrong binary type: an int4 into a bigint column.
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binary)") { writer in
            try writer.beginRow(fieldCount: 1)
            writer.append(Int32(1))
        }) { error in
            XCTAssertNotNil((error as? PostgresError)?.sqlState)
        }
        // The same mistake in a COPY long enough to be sent while the server has already failed.
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binary)") { writer in
            for i in 0..<1_000_000 {
                try writer.beginRow(fieldCount: 1)
                writer.append(Int32(i))
            }
        }) { error in
            XCTAssertNotNil((error as? PostgresError)?.sqlState, "\(error)")
        }
        XCTAssertThrowsError(try connection.copyIn("copy r from stdin (format binarx)") { _ in }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .statementFailed)
        }
        XCTAssertThrowsError(try connection.copyOut("copy r from stdin (format binary)") { _ in }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .invalidUsage)
        }
        XCTAssertThrowsError(try connection.copyOut("copy (select 1) to stdout") { _ in }) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .decodingFailed, "text COPY is not binary")
        }
        XCTAssertEqual(try connection.execute("select 1")[0, 0], "1")
    }
}
