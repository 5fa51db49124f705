import Dispatch
import Logging
import Models
import Postgres
import Synchronization

/// Loads one run's rows into partitions of its own and attaches them, and drops a run's
/// partitions again. Nothing here changes what readers see: that is ``RunSwitch``'s one
/// transaction.
package struct RunWriter {
    let connection: PostgresConnection
    let logger: Logger
    var ddl = ShortLockDDL()
    /// Opens the second lane's session (tests replace it to see the one-session path).
    var openSession: @Sendable (PostgresConnection) throws -> PostgresConnection = { try $0.sibling() }

    package init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Creates, fills, indexes, analyses and attaches every partition of run `runID`.
    /// Returns the number of rows written.
    ///
    /// The tables load in two lanes: the lists on this connection, every other table on a
    /// second session of the same server. Each index build and analyse is server work on one
    /// core, so while one backend indexes the lists (a third of the publish at 32M ratings) the
    /// other loads rows. Without a second session every table loads on this connection.
    @discardableResult
    package func write(_ content: RunContent, runID: Int64) throws -> Int {
        if content.needsModelFile {
            try connection.copyIn("copy latent.model_files (run_id, bytes) from stdin (format binary)") { writer in
                try writer.beginRow(fieldCount: 2)
                writer.append(runID)
                writer.append(bytes: content.liveModel.serialized())
            }
        }
        let lists = content.tables.filter { $0 == .userRecommendations }, others = content.tables.filter { $0 != .userRecommendations }
        let rows: Int
        if let second = openSecondSession() {
            defer { second.close() }
            rows = try load([(lists, connection), (others, second)], of: content, runID: runID)
        } else {
            rows = try load(lists + others, of: content, runID: runID, on: connection)
        }
        try VectorIndex(connection: connection, logger: logger, runID: runID, k: content.vectorLength).write()
        return rows
    }

    /// Loads each lane's tables on its connection, the lanes at the same time; returns the
    /// rows written, or the first lane's error once every lane has finished.
    private func load(_ lanes: [([RunTable], PostgresConnection)], of content: RunContent, runID: Int64) throws -> Int {
        let results = Mutex<[Result<Int, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: lanes.count) { lane in
            let result = Result { try load(lanes[lane].0, of: content, runID: runID, on: lanes[lane].1) }
            results.withLock { $0.append(result) }
        }
        return try results.withLock { results in try results.reduce(0) { try $0 + $1.get() } }
    }

    /// A second session for the other lane, or nil (with a warning) when the server refuses
    /// one, e.g. at its connection limit: then every table loads on this connection.
    private func openSecondSession() -> PostgresConnection? {
        do {
            return try openSession(connection)
        } catch {
            logger.warning("no second session for the publish: loading every table on one", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Loads `tables` one after the other on `connection`; returns the rows written.
    private func load(_ tables: [RunTable], of content: RunContent, runID: Int64, on connection: PostgresConnection) throws -> Int {
        // Index builds sort in memory instead of spilling (the rows arrive sorted, see
        // writeRows, so the sort is one pass); the session is the publisher's own.
        try connection.execute("set maintenance_work_mem = '256MB'")
        var rows = 0
        for table in tables {
            try create(table, runID: runID, on: connection)
            rows += try connection.copyIn(
                "copy \(table.partition(runID)) (\(table.columns)) from stdin (format binary)"
            ) { writer in
                try Self.writeRows(of: table, content, runID: runID, into: &writer)
            }
            try connection.execute("create index on \(table.partition(runID)) (\(table.indexColumns))")
            try connection.execute("analyze \(table.partition(runID))")
            try ddl.run(
                "alter table \(table.qualifiedName) attach partition \(table.partition(runID)) for values in (\(runID))",
                on: connection, logger: logger)
        }
        return rows
    }

    /// A fresh, empty partition for the run, with the check constraint that lets `attach`
    /// skip scanning it.
    private func create(_ table: RunTable, runID: Int64, on connection: PostgresConnection) throws {
        try drop(table, runID: runID, on: connection)
        try connection.execute(
            "create table \(table.partition(runID)) (like \(table.qualifiedName) including defaults including constraints)")
        try connection.execute(
            "alter table \(table.partition(runID)) add constraint \(table.partitionName(runID))_run check (run_id = \(runID))")
    }

    private static func writeRows(
        of table: RunTable, _ content: RunContent, runID: Int64, into writer: inout PostgresBinaryCopyWriter
    ) throws {
        let model = content.model
        switch table {
        case .userRecommendations:
            let lists = content.recommendations
            let scale = model.ratingScale
            for u in idOrder(model.users.ids) {
                let userID = model.users.ids[u]
                for slot in 0..<Int(lists.filled[u]) {
                    var score = lists.scores[u * lists.count + slot]
                    if content.clipsScores { score = min(max(score, scale.lowerBound), scale.upperBound) }
                    try writer.beginRow(fieldCount: 5)
                    writer.append(runID)
                    writer.append(userID)
                    writer.append(Int32(slot + 1))
                    writer.append(lists.movieIDs[u * lists.count + slot])
                    writer.append(score)
                }
            }
        case .similarMovies:
            let measures = content.similar.sorted { $0.0.rawValue < $1.0.rawValue }
            for m in idOrder(model.movies.ids) {
                for (measure, lists) in measures {
                    let movieID = model.movies.ids[m]
                    for slot in 0..<Int(lists.filled[m]) {
                        try writer.beginRow(fieldCount: 6)
                        writer.append(runID)
                        writer.append(movieID)
                        writer.append(measure.rawValue)
                        writer.append(Int32(slot + 1))
                        writer.append(lists.movieIDs[m * lists.count + slot])
                        writer.append(lists.scores[m * lists.count + slot])
                    }
                }
            }
        case .genreVectors:
            guard let genres = content.genres else { return }
            for (g, name) in genres.names.enumerated() {
                try writer.beginRow(fieldCount: 4)
                writer.append(runID)
                writer.append(name)
                writer.append(floatArray: genres.vector(g))
                writer.append(genres.source.rawValue)
            }
        case .movieVectors:
            try writeVectors(
                ids: model.movies.ids, vectors: model.movieFactors, biases: model.movieBias, k: model.k, length: content.vectorLength,
                runID: runID, into: &writer)
        case .userVectors:
            try writeVectors(
                ids: model.users.ids, vectors: model.userFactors, biases: model.userBias, k: model.k, length: content.vectorLength,
                runID: runID, into: &writer)
        }
    }

    private static func writeVectors(
        ids: [Int64], vectors: [Float], biases: [Float], k: Int, length: Int, runID: Int64, into writer: inout PostgresBinaryCopyWriter
    ) throws {
        for i in idOrder(ids) {
            let id = ids[i]
            try writer.beginRow(fieldCount: 4)
            writer.append(runID)
            writer.append(id)
            writer.append(floatArray: vectors[(i * k) ..< (i * k + length)])
            writer.append(biases[i])
        }
    }

    /// Dense indices in ascending id order: rows are written in the order of each partition's
    /// index, so its build reads presorted input and readers find a user's rows together.
    private static func idOrder(_ ids: [Int64]) -> [Int] {
        ids.indices.sorted { ids[$0] < ids[$1] }
    }

    /// Drops every partition of run `runID`, detaching attached ones first (concurrently, so
    /// readers of the parent are never queued behind it).
    package func drop(runID: Int64) throws {
        try connection.query("delete from latent.model_files where run_id = $1::bigint", [String(runID)])
        try VectorIndex.drop(runID: runID, connection: connection, logger: logger)  // first: hasRows then still sees the run
        for table in RunTable.allCases { try drop(table, runID: runID, on: connection) }
    }

    private func drop(_ table: RunTable, runID: Int64, on connection: PostgresConnection) throws {
        let partition = table.partition(runID)
        for _ in 0..<4 {
            switch try state(of: table, runID: runID, on: connection) {
            case .absent:
                return
            case .attached:
                try ddl.run("alter table \(table.qualifiedName) detach partition \(partition) concurrently", on: connection, logger: logger)
            case .detachPending:
                try ddl.run("alter table \(table.qualifiedName) detach partition \(partition) finalize", on: connection, logger: logger)
            case .detached:
                try ddl.run("drop table \(partition)", on: connection, logger: logger)
            }
        }
        throw PublishError.cleanupFailed(partition: partition)
    }

    private enum PartitionState {
        case absent, attached, detachPending, detached
    }

    private func state(of table: RunTable, runID: Int64, on connection: PostgresConnection) throws -> PartitionState {
        let result = try connection.query(
            """
            select c.oid is not null, i.inhrelid is not null, coalesce(i.inhdetachpending, false)
            from (select 1) one
            left join pg_class c on c.relname = $1 and c.relnamespace = 'latent'::regnamespace
            left join pg_inherits i on i.inhrelid = c.oid
            """, [table.partitionName(runID)])
        guard result[0, 0] == "t" else { return .absent }
        guard result[0, 1] == "t" else { return .detached }
        return result[0, 2] == "t" ? .detachPending : .attached
    }
}
