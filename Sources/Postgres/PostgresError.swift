/// An error from PostgreSQL or from the libpq client, with what a caller needs to decide what to
/// do next: the SQLSTATE (to recognise, say, a unique violation) and whether the connection is
/// broken (then ``PostgresConnection/reconnect()`` and retry the unit of work).
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The broad category of the failure.
    public enum Kind: Sendable, Equatable {
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

    public var kind: Kind
    /// The five-character SQLSTATE code reported by the server, when there is one
    /// (e.g. `23505` for a unique violation). See ``SQLState``.
    public var sqlState: String?
    /// The primary, human-readable message.
    public var message: String
    /// The server's optional detail line (e.g. which key already exists).
    public var detail: String?
    /// The server's optional hint.
    public var hint: String?
    /// True when the connection is no longer usable: every later statement on it fails until
    /// ``PostgresConnection/reconnect()`` succeeds. Work that failed this way can be retried.
    public var isConnectionBroken: Bool

    public init(
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

    public var description: String {
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
public enum SQLState {
    /// A command would affect a row more than once (e.g. `MERGE` or `ON CONFLICT DO UPDATE` meeting
    /// the same key twice in its input).
    public static let cardinalityViolation = "21000"
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let notNullViolation = "23502"
    public static let checkViolation = "23514"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let undefinedTable = "42P01"
    public static let syntaxError = "42601"
    public static let adminShutdown = "57P01"
    public static let crashShutdown = "57P02"
    public static let cannotConnectNow = "57P03"
    public static let databaseDropped = "57P04"
    public static let queryCanceled = "57014"
    public static let lockNotAvailable = "55P03"

    /// Codes that mean the session is gone: class 08 (connection exception) and the
    /// operator-intervention codes a terminated or shutting-down backend sends.
    static func meansConnectionLost(_ code: String) -> Bool {
        code.hasPrefix("08") || [adminShutdown, crashShutdown, cannotConnectNow, databaseDropped].contains(code)
    }
}
