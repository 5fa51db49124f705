import Records
import ArgumentParser
import Foundation
import Models
import Postgres

/// `latent bench-copy FILE`: the reference of the ingest benchmark (ops/bench/ingest). Times a
/// raw binary COPY of the file's ratings, read into memory first, into an unlogged table without
/// indexes, and prints `raw_copy rows=N seconds=S rows_per_second=R`. Hidden from the help.
struct IngestBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-copy",
        abstract: "Benchmark reference: raw binary COPY of a ratings file into an unlogged table.",
        shouldDisplay: false)

    @Argument(help: "The ratings file.") var file: String
    @Option(help: "Copy at most this many ratings.") var limit: Int?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        var ratings: [RatingRecord] = []
        let limit = self.limit ?? Int.max
        struct Enough: Error {}
        do {
            try MovieLens.forEachRating(in: file) { record in
                guard ratings.count < limit else { throw Enough() }
                ratings.append(record)
            }
        } catch is Enough {}

        let connection = try database.connect()
        defer { connection.close() }
        try connection.execute("""
            drop table if exists public.latent_bench_raw_copy;
            create unlogged table public.latent_bench_raw_copy (
                user_id bigint not null, movie_id bigint not null, rating real not null, rated_at timestamptz not null);
            """)
        let started = Date()
        try connection.copyIn("copy public.latent_bench_raw_copy (user_id, movie_id, rating, rated_at) from stdin (format binary)") { writer in
            for record in ratings {
                try writer.beginRow(fieldCount: 4)
                writer.append(record.userID)
                writer.append(record.movieID)
                writer.append(record.rating)
                writer.appendTimestamp(epochSeconds: record.timestamp)
            }
        }
        let seconds = -started.timeIntervalSinceNow
        try connection.execute("drop table public.latent_bench_raw_copy")
        print("raw_copy rows=\(ratings.count) seconds=\(String(format: "%.3f", seconds)) rows_per_second=\(Int(Double(ratings.count) / seconds))")
    }
}
