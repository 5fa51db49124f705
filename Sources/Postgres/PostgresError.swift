/// An error from PostgreSQL or from the libpq client, with what a caller needs to decide what to
/// do next: the SQLSTATE (to recognise, say, a unique violation) and whether the connection is
/// broken (then ``PostgresConnection/reconnect()`` and retry the unit of work).
package struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The broad category of the failure.
    package enum Kind: Sendable, Equatable {
        /// Establishing (or re-establishing) the connection failed.
        case connectionFailed
        /// The server rejected a statement (see ``PostgresError/sqlState``) or the connection
        /// dropped while it ran.
        case statementFailed
        /// A binary COPY stream was malformed or a field did not have the requested type.
        case decodingFailed
        /// The API was used in a way it does not support (e.g. a COPY statement passed to
        /// `execute`, a row with the wrong number of fields).
        case invalidUsage
    }

    package var kind: Kind
    /// The five-character SQLSTATE code reported by the server, when there is one
    /// (e.g. `23505` for a unique violation). See ``SQLState``.
    package var sqlState: String?
    /// The primary, human-readable message.
    package var message: String
    /// The server's optional detail line (e.g. which key already exists).
    package var detail: String?
    /// The server's optional hint.
    package var hint: String?
    /// True when the connection is no longer usable: every later statement on it fails until
    /// ``PostgresConnection/reconnect()`` succeeds. Work that failed this way can be retried.
    package var isConnectionBroken: Bool

    package init(
        kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        isConnectionBroken: Bool = false
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.isConnectionBroken = isConnectionBroken
    }

    package var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += ". \(detail)" }
        if let hint, !hint.isEmpty { text += " Hint: \(hint)" }
        if isConnectionBroken, kind != .connectionFailed { text += " [connection lost]" }
        return text
    }

    static func invalidUsage(_ message: String) -> PostgresError {
        PostgresError(kind: .invalidUsage, message: message)
    }

    static func decoding(_ message: String) -> PostgresError {
        PostgresError(kind: .decodingFailed, message: message)
    }
}

/// SQLSTATE codes callers commonly branch on
/// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
package enum SQLState {
    /// A command would affect a row more than once (e.g. `MERGE` or `ON CONFLICT DO UPDATE` meeting
    /// the same key twice in its input).
    package static let cardinalityViolation = "21000"
    package static let uniqueViolation = "23505"
    package static let foreignKeyViolation = "23503"
    package static let notNullViolation = "23502"
    package static let checkViolation = "23514"
    package static let serializationFailure = "40001"
    package static let deadlockDetected = "40P01"
    package static let undefinedTable = "42P01"
    package static let syntaxError = "42601"
    package static let adminShutdown = "57P01"
    package static let crashShutdown = "57P02"
    package static let cannotConnectNow = "57P03"
    package static let databaseDropped = "57P04"
    package static let queryCanceled = "57014"
    package static let lockNotAvailable = "55P03"

    /// Codes that mean the session is gone: class 08 (connection exception) and the
    /// operator-intervention codes a terminated or shutting-down backend sends.
    static func meansConnectionLost(_ code: String) -> Bool {
        code.hasPrefix("08") || [adminShutdown, crashShutdown, cannotConnectNow, databaseDropped].contains(code)
    }
}
