import Ingest
import Foundation
import Kafka
import Models
import Pipeline
import Postgres
import XCTest

/// The batch writer's merge rule and bookkeeping against a real PostgreSQL, and one end-to-end
/// run of `latent ingest --until-caught-up` over a mixed stream.
final class IngestTests: XCTestCase {
    // MARK: Helpers

    private func message(_ payload: String, partition: Int32 = 0, offset: Int64, topic: String = "ratings") -> KafkaMessage {
        KafkaMessage(topic: topic, partition: partition, offset: offset, key: Array("k".utf8), payload: Array(payload.utf8), timestamp: nil)
    }

    private func rating(_ user: Int64, _ movie: Int64, _ rating: Float?, _ seconds: Int64) -> String {
        #"{"user_id":\#(user),"movie_id":\#(movie),"rating":\#(rating.map { "\($0)" } ?? "null"),"ts":\#(seconds)}"#
    }

    /// Writes one batch of rating payloads (offsets continue per writer), returns the batch.
    private final class Feeder {
        let writer: BatchWriter
        var next: Int64 = 0
        var stored: Int64? = nil
        init(_ writer: BatchWriter) { self.writer = writer }

        func write(_ payloads: [String], topic: String = "ratings") throws {
            var batch = IngestBatch(ratingsTopic: "ratings", moviesTopic: "movies")
            for payload in payloads {
                batch.add(KafkaMessage(topic: topic, partition: 0, offset: next, key: nil, payload: Array(payload.utf8), timestamp: nil))
                next += 1
            }
            batch.seal()
            try writer.write(batch, expectedOffsets: [TopicPartition(topic: topic, partition: 0): stored])
            stored = next
        }
    }

    private func rows(_ connection: PostgresConnection, _ sql: String) throws -> [String] {
        let result = try connection.query(sql)
        return (0..<result.rowCount).map { row in
            (0..<result.columnCount).map { result[row, $0] ?? "NULL" }.joined(separator: ",")
        }
    }

    private let ratingsSQL = "select user_id, movie_id, rating, extract(epoch from rated_at)::bigint from latent.ratings order by 1, 2"
    /// The offsets stored for consumer group `g`.
    private let storedOffsetsSQL = "select topic, partition, next_offset from latent.consumer_offsets where consumer_group = 'g' order by 1, 2"
    private let tombstonesSQL = "select user_id, movie_id, extract(epoch from retracted_at)::bigint from latent.rating_tombstones order by 1, 2"

    // MARK: Merge rule

    func testNewestTimestampWinsAcrossBatches() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        let feeder = Feeder(BatchWriter(connection: try database.connect(), consumerGroup: "g"))

        try feeder.write([rating(1, 1, 4, 100)])
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,4,100"])
        try feeder.write([rating(1, 1, 2, 50)])  // older rating arrives late: ignored
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,4,100"])
        try feeder.write([rating(1, 1, nil, 80)])  // older retraction: ignored
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,4,100"])
        XCTAssertEqual(try rows(connection, tombstonesSQL), [])
        try feeder.write([rating(1, 1, nil, 200)])  // newer retraction: deletes, leaves a tombstone
        XCTAssertEqual(try rows(connection, ratingsSQL), [])
        XCTAssertEqual(try rows(connection, tombstonesSQL), ["1,1,200"])
        try feeder.write([rating(1, 1, 5, 150)])  // older than the retraction: no resurrection
        XCTAssertEqual(try rows(connection, ratingsSQL), [])
        try feeder.write([rating(1, 1, nil, 120)])  // older retraction keeps the newer tombstone
        XCTAssertEqual(try rows(connection, tombstonesSQL), ["1,1,200"])
        try feeder.write([rating(1, 1, 3.5, 300)])  // newer rating re-creates the row, drops the tombstone
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,3.5,300"])
        XCTAssertEqual(try rows(connection, tombstonesSQL), [])
        try feeder.write([rating(1, 1, 1, 300)])  // same ts: the later arrival wins
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,1,300"])
        try feeder.write([rating(2, 9, nil, 10)])  // retraction of a pair never rated: tombstone only
        XCTAssertEqual(try rows(connection, tombstonesSQL), ["2,9,10"])
        try feeder.write([rating(2, 9, 2, 5)])
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,1,300"])
    }

    func testDeduplicatesWithinABatch() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        let feeder = Feeder(BatchWriter(connection: try database.connect(), consumerGroup: "g"))
        try feeder.write([
            rating(1, 1, 4, 100), rating(1, 1, 2, 50), rating(1, 1, 5, 100),  // tie at 100: later offset (5) wins
            rating(1, 2, 3, 10), rating(1, 2, nil, 20),  // retracted within the batch
            rating(1, 3, nil, 20), rating(1, 3, 4.5, 30),  // re-rated within the batch
            rating(1, 4, nil, 40), rating(1, 4, 1, 30),  // late older rating within the batch
        ])
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,5,100", "1,3,4.5,30"])
        XCTAssertEqual(try rows(connection, tombstonesSQL), ["1,2,20", "1,4,40"])
    }

    func testRejectedEventsMoviesAndOffsetsAreWrittenTogether() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        let writer = BatchWriter(connection: try database.connect(), consumerGroup: "group-a")
        var batch = IngestBatch(ratingsTopic: "ratings", moviesTopic: "movies")
        batch.add(message(rating(1, 1, 4, 100), partition: 0, offset: 10))
        batch.add(message(#"{"user_id":1,"movie_id":1,"rating":9,"ts":1}"#, partition: 0, offset: 11))
        batch.add(message(rating(2, 1, 3, 100), partition: 3, offset: 7))
        batch.add(message(#"{"movie_id":5,"title":"Old","genres":["A"]}"#, partition: 1, offset: 0, topic: "movies"))
        batch.add(message(#"{"movie_id":5,"title":"New \"title\"","genres":["A","B"]}"#, partition: 1, offset: 1, topic: "movies"))
        batch.add(message(#"{"movie_id":6,"title":"x"#, partition: 1, offset: 2, topic: "movies"))
        batch.seal()
        XCTAssertEqual(batch.consumedCount, 6)
        XCTAssertEqual(batch.acceptedCount, 4)
        XCTAssertEqual(batch.rejectedCount, 2)
        try writer.write(batch, expectedOffsets: [:])

        XCTAssertEqual(try rows(connection, "select movie_id, title, array_to_string(genres, '|') from latent.movies"), [#"5,New "title",A|B"#])
        XCTAssertEqual(
            try rows(connection, #"select topic, partition, "offset", convert_from(key, 'UTF8'), split_part(reason, ':', 1) from latent.rejected_events order by 1, 3"#),
            ["movies,1,2,k,malformed_json", "ratings,0,11,k,rating_out_of_range"])
        let payload = try rows(connection, #"select convert_from(payload, 'UTF8') from latent.rejected_events where "offset" = 11"#)
        XCTAssertEqual(payload, [#"{"user_id":1,"movie_id":1,"rating":9,"ts":1}"#])
        XCTAssertEqual(
            try rows(connection, "select topic, partition, next_offset from latent.consumer_offsets where consumer_group = 'group-a' order by 1, 2"),
            ["movies,1,3", "ratings,0,12", "ratings,3,8"])
    }

    func testStaleOffsetsFenceTheBatchAndWriteNothing() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        let writer = BatchWriter(connection: try database.connect(), consumerGroup: "g")
        let tp = TopicPartition(topic: "ratings", partition: 0)
        var first = IngestBatch(ratingsTopic: "ratings", moviesTopic: "movies")
        first.add(message(rating(1, 1, 4, 100), offset: 0))
        first.seal()
        try writer.write(first, expectedOffsets: [tp: nil])

        // A second writer that still believes nothing is stored (a zombie group member).
        var stale = IngestBatch(ratingsTopic: "ratings", moviesTopic: "movies")
        stale.add(message(rating(1, 1, 1, 900), offset: 0))
        stale.seal()
        XCTAssertThrowsError(try writer.write(stale, expectedOffsets: [tp: nil])) { error in
            guard case IngestWriteError.fenced(let moved) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(moved[tp], .some(1))
        }
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,4,100"])
        XCTAssertEqual(try rows(connection, storedOffsetsSQL), ["ratings,0,1"], "the fenced batch stored no offset")
    }

    func testAnUnreadableStoredOffsetFailsTheBatchInsteadOfLookingAbsent() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        // A stored offset the writer cannot read (a hand edit, a schema drift). Skipped, the row
        // would look like "nothing stored yet" and the batch would be written over it.
        try connection.execute("""
            alter table latent.consumer_offsets alter column next_offset type text;
            insert into latent.consumer_offsets (consumer_group, topic, partition, next_offset) values ('g', 'ratings', 0, 'garbage')
            """)
        let writer = BatchWriter(connection: try database.connect(), consumerGroup: "g")
        var batch = IngestBatch(ratingsTopic: "ratings", moviesTopic: "movies")
        batch.add(message(rating(1, 1, 4, 100), offset: 0))
        batch.seal()
        XCTAssertThrowsError(try writer.write(batch, expectedOffsets: [TopicPartition(topic: "ratings", partition: 0): nil])) { error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error.kind, .decodingFailed)
            XCTAssertTrue(error.message.contains("garbage"), error.message)
        }
        XCTAssertEqual(try rows(connection, ratingsSQL), [])
        XCTAssertEqual(try rows(connection, storedOffsetsSQL), ["ratings,0,garbage"])
    }

    func testAPairInsertedByAConcurrentTransactionIsMerged() throws {
        let database = try IngestTestDatabase(self)
        let connection = try database.connect()
        let feeder = Feeder(BatchWriter(connection: try database.connect(), consumerGroup: "g"))
        // Another transaction inserts (1, 1) and commits only once the writer waits for it (the
        // writer looked for the pair, did not see it, and its insert now waits on the other's
        // lock): the insert then fails with a unique violation, and the batch is redone.
        let other = try database.connect()
        try other.execute("begin; insert into latent.ratings values (1, 1, 2, to_timestamp(50))")
        let writerPID = try feeder.writer.connection.integer("select pg_backend_pid()")
        let otherPID = try other.integer("select pg_backend_pid()")
        let watcher = try database.connect()
        let sawWriterWaiting = LockedFlag()
        let committer = Thread {
            let blockedSQL = "select count(*) from unnest(pg_blocking_pids(\(writerPID))) as p where p = \(otherPID)"
            let deadline = Date(timeIntervalSinceNow: 30)
            while Date() < deadline {
                if (try? watcher.integer(blockedSQL)) == 1 {
                    sawWriterWaiting.set()
                    break
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            _ = try? other.execute("commit")
        }
        committer.start()
        try feeder.write([rating(1, 1, 4, 100), rating(1, 2, 3, 100)])
        XCTAssertTrue(sawWriterWaiting.isSet, "the writer never waited for the concurrent insert")
        XCTAssertEqual(try rows(connection, ratingsSQL), ["1,1,4,100", "1,2,3,100"])
        XCTAssertEqual(try rows(connection, storedOffsetsSQL), ["ratings,0,2"])
    }

    func testReconnectRecreatesTheStagingTables() throws {
        let database = try IngestTestDatabase(self)
        let feeder = Feeder(BatchWriter(connection: try database.connect(), consumerGroup: "g"))
        try feeder.write([rating(1, 1, 4, 100)])
        let admin = try database.connect()
        _ = try admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()")
        XCTAssertThrowsError(try feeder.write([rating(1, 2, 4, 100)]))
        try feeder.writer.reconnect()
        try feeder.write([rating(1, 2, 4, 100)])
        XCTAssertEqual(try admin.integer("select count(*) from latent.ratings"), 2)
    }

    // MARK: End to end

    func testCountsReconcileForAMixedStream() throws {
        let database = try IngestTestDatabase(self)
        let broker = try IngestTestBroker(ratingPartitions: 4)
        let stream = MixedEventStream(count: 12_000, users: 300, movies: 60, seed: 42)
        for event in stream.events {
            try broker.producer.send(topic: broker.ratingsTopic, key: event.key.map { Array(String($0).utf8) }, value: event.payload)
        }
        let movies = [
            #"{"movie_id": 1, "title": "Toy Story (1995)", "genres": ["Adventure", "Animation"]}"#,
            #"{"movie_id": 2, "title": "Jumanji (1995)", "genres": []}"#,
            #"{"movie_id": 1, "title": "Toy Story (1995)", "genres": ["Adventure", "Animation", "Children"]}"#,
            #"{"movie_id": 3, "title": 3}"#,
        ]
        for movie in movies { try broker.send(movie, key: 1, topic: broker.moviesTopic) }
        try broker.flush()
        for marks in try broker.watermarks(topic: broker.ratingsTopic, partitions: 4) {
            XCTAssertEqual(marks.low, 0, "the mock broker dropped messages: size the partitions for the volume")
        }

        let child = try IngestChild(database: database, broker: broker, group: "reconcile", arguments: ["--until-caught-up"], label: "reconcile")
        XCTAssertEqual(child.waitForExit(timeout: 120), 0, child.log)

        let produced = stream.events.count + movies.count
        let summary = child.log.split(separator: "\n").first { $0.hasPrefix("ingest: ") } ?? ""
        XCTAssertTrue(summary.contains("consumed=\(produced) "), "\(summary)\n\(child.log)")
        XCTAssertTrue(summary.contains("accepted=\(stream.validCount + 3) "), String(summary))
        XCTAssertTrue(summary.contains("rejected=\(stream.rejectedCount + 1) "), String(summary))

        let connection = try database.connect()
        let accepted = stream.validCount + 3
        let rejected = try connection.integer("select count(*) from latent.rejected_events")
        XCTAssertEqual(accepted + rejected, produced, "events produced = accepted + rejected")
        XCTAssertEqual(rejected, stream.rejectedCount + 1)

        var byReason: [String: Int] = [:]
        for row in try rows(connection, "select split_part(reason, ':', 1), count(*) from latent.rejected_events where topic = 'ratings' group by 1") {
            let parts = row.split(separator: ",")
            byReason[String(parts[0])] = Int(parts[1])
        }
        XCTAssertEqual(byReason, stream.rejectionsByReason)

        let live = Set(try rows(connection, "select user_id, movie_id, rating, (extract(epoch from rated_at) * 1000000)::bigint from latent.ratings"))
        let expectedLive = Set(stream.expected.live.map { line -> String in
            // The expected set prints ratings as Swift floats (4.0); PostgreSQL prints 4.
            var parts = line.split(separator: ",").map(String.init)
            if parts[2].hasSuffix(".0") { parts[2].removeLast(2) }
            return parts.joined(separator: ",")
        })
        XCTAssertEqual(live.count, expectedLive.count)
        XCTAssertEqual(live, expectedLive)
        let tombstones = Set(try rows(connection, "select user_id, movie_id, (extract(epoch from retracted_at) * 1000000)::bigint from latent.rating_tombstones"))
        XCTAssertEqual(tombstones, stream.expected.tombstones)

        XCTAssertEqual(try rows(connection, "select movie_id, array_to_string(genres, '|') from latent.movies order by 1"),
                       ["1,Adventure|Animation|Children", "2,"])
        XCTAssertEqual(try connection.integer("select coalesce(sum(next_offset), 0) from latent.consumer_offsets where consumer_group = 'reconcile'"), produced)
    }
}
