/// Why an event was rejected: a stable code (for metrics and queries) plus a message a person
/// can act on. Stored in `latent.rejected_events.reason` as `"<code>: <message>"`.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable, machine-readable reason codes. Never rename a case's raw value: dashboards
    /// and queries over `latent.rejected_events` depend on them.
    public enum Reason: String, Sendable, CaseIterable {
        /// The message has no value (a null or zero-length Kafka payload).
        case emptyPayload = "empty_payload"
        /// The payload is larger than ``EventParser/maximumPayloadSize``.
        case payloadTooLarge = "payload_too_large"
        /// The payload is not valid UTF-8.
        case invalidUTF8 = "invalid_utf8"
        /// The payload is not syntactically valid JSON.
        case malformedJSON = "malformed_json"
        /// The payload is valid JSON but not an object.
        case notAnObject = "not_an_object"
        /// A required field is absent.
        case missingField = "missing_field"
        /// A known field appears twice (ambiguous: parsers disagree on which one wins).
        case duplicateField = "duplicate_field"
        /// A known field has the wrong JSON type (e.g. an id given as a string).
        case wrongType = "wrong_type"
        /// A rating outside [0.5, 5.0].
        case ratingOutOfRange = "rating_out_of_range"
        /// A rating that is not a multiple of 0.5.
        case ratingNotHalfStep = "rating_not_half_step"
        /// An id that is zero or negative.
        case nonPositiveID = "non_positive_id"
        /// An id that does not fit in a signed 64-bit integer.
        case idTooLarge = "id_too_large"
        /// A `ts` that is neither epoch seconds nor an RFC 3339 date-time in years 1-9999.
        case invalidTimestamp = "invalid_timestamp"
        /// Text that PostgreSQL cannot store (a NUL character) or an empty title.
        case invalidText = "invalid_text"
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// `"<code>: <message>"`, the form stored in `latent.rejected_events.reason`.
    public var description: String { "\(reason.rawValue): \(message)" }
}
