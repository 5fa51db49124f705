/// Constants of PostgreSQL's binary COPY format
/// (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4).
enum PostgresBinaryFormat {
    /// "PGCOPY\n\377\r\n\0", then a 32-bit flags word and a 32-bit header-extension length.
    static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
    static let headerLength = 11 + 4 + 4
    /// Seconds from 1970-01-01 to 2000-01-01 (PostgreSQL's timestamp epoch).
    static let epochOffsetSeconds: Int64 = 946_684_800
    static let textOID: Int32 = 25
    static let float4OID: Int32 = 700
}
