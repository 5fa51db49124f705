import Foundation
import Postgres
import XCTest

/// Measures binary COPY throughput for (int, int, real, bigint) rows into a logged table and
/// back, printing rows/s. Not a timed assertion: it checks the counts and reports the rates.
/// `LATENT_BENCH_COPY_ROWS` sets the row count (default 200,000; use 2,000,000 in release for
/// figures comparable with the stack notes).
final class PostgresCopyThroughputTests: XCTestCase {
    func testCopyThroughput() throws {
        let rows = ProcessInfo.processInfo.environment["LATENT_BENCH_COPY_ROWS"].flatMap { Int($0) } ?? 200_000
        let connection = try TestDatabase.connect()
        let table = "copy_throughput_\(getpid())"
        try connection.execute("drop table if exists \(table); create table \(table) (u int, m int, rating real, ts bigint)")
        defer { _ = try? connection.execute("drop table if exists \(table)") }

        let inStart = ContinuousClock.now
        let copied = try connection.copyIn("copy \(table) from stdin (format binary)") { writer in
            for i in 0..<rows {
                try writer.beginRow(fieldCount: 4)
                writer.append(Int32(truncatingIfNeeded: i))
                writer.append(Int32(truncatingIfNeeded: i % 50_000))
                writer.append(Float(i % 10) * 0.5 + 0.5)
                writer.append(Int64(1_600_000_000 + i))
            }
        }
        let inSeconds = Self.seconds(since: inStart)
        XCTAssertEqual(copied, rows)

        let outStart = ContinuousClock.now
        var read = 0
        var checksum: Int64 = 0
        try connection.copyOut("copy \(table) to stdout (format binary)") { row in
            read += 1
            checksum &+= Int64(try row.int32(0)) &+ Int64(try row.int32(1)) &+ Int64(try row.float(2)) &+ (try row.int64(3))
        }
        let outSeconds = Self.seconds(since: outStart)
        XCTAssertEqual(read, rows)
        XCTAssertNotEqual(checksum, 0)
        print(String(
            format: "binary COPY of %d (int, int, real, bigint) rows: in %.0f rows/s (%.2f s), out %.0f rows/s (%.2f s)",
            rows, Double(rows) / inSeconds, inSeconds, Double(rows) / outSeconds, outSeconds))
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}
