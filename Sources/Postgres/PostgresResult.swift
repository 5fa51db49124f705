import CLibPQ

/// The rows and status of a completed statement, read as text.
///
/// Owns the libpq `PGresult` and frees it when released. It is immutable, which is why it is
/// `@unchecked Sendable`: libpq only reads a finished result.
package final class PostgresResult: @unchecked Sendable {
    private let handle: OpaquePointer

    init(owning handle: OpaquePointer) {
        self.handle = handle
    }

    deinit { PQclear(handle) }

    /// Number of rows returned.
    package var rowCount: Int { Int(PQntuples(handle)) }

    /// Number of columns returned.
    package var columnCount: Int { Int(PQnfields(handle)) }

    /// Rows inserted, updated, deleted, copied or fetched by the statement (0 when not applicable).
    package var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The command tag, e.g. `INSERT 0 3`'s verb `INSERT`, or `COMMIT`, `ROLLBACK`.
    package var commandTag: String {
        let status = String(cString: PQcmdStatus(handle))
        return status.split(separator: " ").first.map(String.init) ?? status
    }

    /// The name of column `column`.
    package func columnName(_ column: Int) -> String {
        guard column >= 0, column < columnCount, let name = PQfname(handle, Int32(column)) else { return "" }
        return String(cString: name)
    }

    /// The position of the column called `name`, or nil.
    package func columnIndex(named name: String) -> Int? {
        let index = Int(PQfnumber(handle, "\"\(name.replacing("\"", with: "\"\""))\""))
        return index >= 0 ? index : nil
    }

    /// The value at `row`, `column` in PostgreSQL's text format; nil for SQL NULL or when the
    /// position is out of range.
    package subscript(row: Int, column: Int) -> String? {
        guard row >= 0, row < rowCount, column >= 0, column < columnCount,
              PQgetisnull(handle, Int32(row), Int32(column)) == 0,
              let value = PQgetvalue(handle, Int32(row), Int32(column))
        else { return nil }
        return String(cString: value)
    }

    /// The value at `row` in the column called `column`.
    package subscript(row: Int, column: String) -> String? {
        guard let index = columnIndex(named: column) else { return nil }
        return self[row, index]
    }
}
