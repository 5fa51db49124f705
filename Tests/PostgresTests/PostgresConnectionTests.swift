import Postgres
import XCTest

final class PostgresConnectionTests: XCTestCase {
    func testQueryWithParametersAndNull() throws {
        let connection = try TestDatabase.connect()
        let result = try connection.query("select $1::bigint + 1 as next, $2::text as missing, $3::text as word", ["41", nil, "héllo"])
        XCTAssertEqual(result.rowCount, 1)
        XCTAssertEqual(result.columnCount, 3)
        XCTAssertEqual(result[0, 0], "42")
        XCTAssertNil(result[0, 1])
        XCTAssertEqual(result[0, "word"], "héllo")
        XCTAssertEqual(result.columnName(0), "next")
        XCTAssertNil(result[1, 0], "out of range reads are nil, not a crash")
    }

    func testURLSettingsWinOverDefaultsAndDatabaseOverride() throws {
        let url = try TestDatabase.url
        XCTAssertEqual(try PostgresConnection(url: url).execute("show application_name")[0, 0], "latent")
        XCTAssertEqual(try PostgresConnection(url: url).execute("show client_encoding")[0, 0], "UTF8")
        let separator = url.contains("?") ? "&" : "?"
        let named = try PostgresConnection(url: url + separator + "application_name=latent-tests&keepalives_idle=60")
        XCTAssertEqual(try named.execute("show application_name")[0, 0], "latent-tests")
        let postgres = try PostgresConnection(url: url, database: "postgres")
        XCTAssertEqual(try postgres.execute("select current_database()")[0, 0], "postgres")
    }

    func testExecuteRunsSeveralStatementsAndCountsRows() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int primary key); insert into t values (1), (2), (3)")
        let update = try connection.execute("update t set id = id + 10 where id >= 2")
        XCTAssertEqual(update.affectedRows, 2)
        XCTAssertEqual(try connection.query("select count(*) from t")[0, 0], "3")
    }

    func testServerErrorsCarrySQLState() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int primary key); insert into t values (1)")
        XCTAssertThrowsError(try connection.execute("insert into t values (1)")) { error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error.sqlState, SQLState.uniqueViolation)
            XCTAssertEqual(error.kind, .statementFailed)
            XCTAssertFalse(error.isConnectionBroken)
            XCTAssertTrue(error.description.contains("23505"), error.description)
            XCTAssertNotNil(error.detail)
        }
        XCTAssertThrowsError(try connection.execute("selec 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.syntaxError)
        }
        XCTAssertTrue(connection.isConnected)
        XCTAssertEqual(try connection.execute("select 1")[0, 0], "1")
    }

    func testTransactionCommitsAndRollsBack() throws {
        struct Boom: Error {}
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int primary key)")
        try connection.transaction { try connection.execute("insert into t values (1)") }
        XCTAssertThrowsError(try connection.transaction {
            try connection.execute("insert into t values (2)")
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try connection.query("select string_agg(id::text, ',' order by id) from t")[0, 0], "1")
    }

    func testNestedTransactionUsesSavepoint() throws {
        struct Boom: Error {}
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int primary key)")
        try connection.transaction {
            try connection.execute("insert into t values (1)")
            _ = try? connection.transaction {
                try connection.execute("insert into t values (2)")
                throw Boom()
            }
            try connection.execute("insert into t values (3)")
        }
        XCTAssertEqual(try connection.query("select string_agg(id::text, ',' order by id) from t")[0, 0], "1,3")
    }

    func testSwallowedErrorMakesCommitFail() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int primary key)")
        XCTAssertThrowsError(try connection.transaction {
            try connection.execute("insert into t values (1)")
            _ = try? connection.execute("insert into t values (1)")
        })
        XCTAssertEqual(try connection.query("select count(*) from t")[0, 0], "0")
    }

    func testConnectionFailureDoesNotEchoPassword() throws {
        let secret = "s3cr3t-Pa55"
        for url in [
            "postgresql://latent:\(secret)@127.0.0.1:1/latent?connect_timeout=2",
            "host=127.0.0.1 port=1 user=latent password=\(secret) connect_timeout=2",
            "postgresql://latent:\(secret)@127.0.0.1:1/latent?bogus_option=1",
            "host=127.0.0.1 password=\(secret) brokenfield",
        ] {
            XCTAssertThrowsError(try PostgresConnection(url: url)) { error in
                guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
                XCTAssertEqual(error.kind, .connectionFailed)
                XCTAssertFalse(error.description.contains(secret), error.description)
                XCTAssertFalse(error.message.isEmpty)
            }
        }
        XCTAssertEqual(
            PostgresConnection.redacting("postgresql://u:\(secret)@h/db", secretsOf: "postgresql://u:\(secret)@h/db"),
            "postgresql://u:********@h/db")
    }

    func testTerminatedBackendIsReportedAsBrokenAndReconnectWorks() throws {
        let victim = try TestDatabase.connect()
        let admin = try TestDatabase.connect()
        let pid = try XCTUnwrap(victim.execute("select pg_backend_pid()")[0, 0])
        XCTAssertEqual(try admin.query("select pg_terminate_backend($1::int)", [pid])[0, 0], "t")
        // The backend needs a moment to go; the next statement must fail as broken.
        var brokenError: PostgresError?
        for _ in 0..<50 {
            do {
                try victim.execute("select 1")
                usleep(100_000)
            } catch {
                brokenError = error
                break
            }
        }
        let error = try XCTUnwrap(brokenError, "statements kept succeeding on a terminated backend")
        XCTAssertTrue(error.isConnectionBroken, error.description)
        XCTAssertFalse(victim.isConnected)
        try victim.reconnect()
        XCTAssertTrue(victim.isConnected)
        XCTAssertEqual(try victim.execute("select 2")[0, 0], "2")
    }

    func testClosedConnectionReportsBroken() throws {
        let connection = try TestDatabase.connect()
        connection.close()
        connection.close()
        XCTAssertFalse(connection.isConnected)
        XCTAssertThrowsError(try connection.execute("select 1")) { error in
            XCTAssertEqual((error as? PostgresError)?.isConnectionBroken, true)
        }
        try connection.reconnect()
        XCTAssertEqual(try connection.execute("select 1")[0, 0], "1")
    }

    func testCopyStatementsAreRejectedByExecute() throws {
        let connection = try TestDatabase.connect()
        try connection.execute("create temp table t (id int)")
        XCTAssertThrowsError(try connection.execute("copy t from stdin")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .invalidUsage)
        }
        XCTAssertThrowsError(try connection.execute("copy (select 1) to stdout")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .invalidUsage)
        }
        XCTAssertEqual(try connection.execute("select 1")[0, 0], "1", "the connection is usable afterwards")
    }
}
