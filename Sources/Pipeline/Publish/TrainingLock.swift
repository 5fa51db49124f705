import Postgres

/// The cluster-wide "one trainer at a time" lock: a PostgreSQL session advisory lock, so it is
/// released when its connection closes, even when the process is killed.
package struct TrainingLock {
    /// An arbitrary constant shared by every Latent process ("LATENT" in ASCII).
    static let key: Int64 = 0x4C41_54454E54

    let connection: PostgresConnection

    package init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Takes the lock if nobody holds it; false when another session does.
    package func tryAcquire() throws -> Bool {
        try connection.query("select pg_try_advisory_lock($1::bigint)", [String(Self.key)])[0, 0] == "t"
    }

    package func release() throws {
        try connection.query("select pg_advisory_unlock($1::bigint)", [String(Self.key)])
    }
}
