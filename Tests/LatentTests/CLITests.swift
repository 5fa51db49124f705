import ArgumentParser
import Foundation
@testable import latent
import LatentTestSupport
import Postgres
import XCTest

/// The built `latent`, run as a user runs it: help, usage errors, the model commands on a
/// small MovieLens sample, and malformed input files.
final class CLITests: XCTestCase {
    // MARK: Help and version

    func testEverySubcommandsHelpExitsZero() throws {
        let paths = Self.commandPaths(Latent.self, prefix: [])
        XCTAssertGreaterThan(paths.count, 20, "\(paths)")
        for path in paths {
            let run = try LatentRun.run(path + ["--help"], timeout: 30)
            XCTAssertEqual(run.status, 0, "latent \(path.joined(separator: " ")) --help: \(run.standardError)")
            XCTAssertTrue(run.standardOutput.contains("USAGE: latent"), "latent \(path.joined(separator: " ")) --help printed:\n\(run.standardOutput)")
        }
    }

    func testVersionNamesTheCPUTargetAndOpenBLAS() throws {
        let run = try LatentRun.run(["--version"], timeout: 30)
        XCTAssertEqual(run.status, 0, run.standardError)
        let lines = run.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.first, "latent \(Latent.release)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("simd: native: AVX2") || $0.hasPrefix("simd: portable") }, run.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("openblas: OpenBLAS ") }, run.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("openblas core: ") && $0.count > "openblas core: ".count }, run.standardOutput)
    }

    func testOpenBLASGetsTheKernelsOfTheCPUsFeatures() throws {
        XCTAssertEqual(BLASCoreSelection.coreForThisCPU(cpuinfo: "processor : 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl\n"), "SkylakeX")
        XCTAssertEqual(BLASCoreSelection.coreForThisCPU(cpuinfo: "flags : fpu sse2 avx avx2 fma\n"), "Haswell")
        XCTAssertNil(BLASCoreSelection.coreForThisCPU(cpuinfo: "flags : fpu sse2 sse3\n"))
        XCTAssertNil(BLASCoreSelection.coreForThisCPU(cpuinfo: "no flags here"))
        // The built binary, run here: a CPU with AVX2 never computes on the generic kernels.
        let run = try LatentRun.run(
            ["--version"], environment: ["OPENBLAS_CORETYPE": nil, BLASCoreSelection.marker: nil], timeout: 30)
        XCTAssertEqual(run.status, 0, run.standardError)
        let core = run.standardOutput.split(separator: "\n").first { $0.hasPrefix("openblas core: ") } ?? ""
        if BLASCoreSelection.coreForThisCPU() != nil {
            XCTAssertFalse(core.hasPrefix("openblas core: Prescott"), run.standardOutput)
        }
    }

    // MARK: Usage errors and failures

    func testBadFlagsAndValuesGiveOneLineNamingTheFlagAndStatus64() throws {
        let sample = try Sample(self)
        // What validation reads from the environment, so that only the flag under test is wrong.
        let environment = ["LATENT_DATABASE_URL": "postgresql://latent@db.invalid/latent", "LATENT_KAFKA_BROKERS": "kafka.invalid:9092"]
        let out = ["--out", sample.directory.appendingPathComponent("unwritten.model").path]
        // Validation runs before the model is read: no model file is needed.
        let model = sample.directory.appendingPathComponent("unread.model").path
        let cases: [(arguments: [String], names: String)] = [
            (["ingest", "--brokers", "kafka.invalid:9092", "--no-such-flag"], "--no-such-flag"),
            (["ingest", "--ratings-topic", "events", "--movies-topic", "events"], "--movies-topic"),
            (["recommend", model, "--user", "1", "--count", "0"], "--count"),
            (["similar", model, "--movie", "1", "--count", "0"], "--count"),
            (["train", "als", "--ratings", sample.ratings, "--k", "-1"] + out, "--k"),
            (["train", "als", "--ratings", sample.ratings, "--k", "0"] + out, "--k"),
            (["train", "baseline", "--ratings", sample.ratings, "--epochs", "3"] + out, "--epochs"),
            (["serve", "--schedule", "61 * * * *"], "--schedule"),
            (["serve", "--schedule", "not cron"], "--schedule"),
            (["publish", "--model", "nosuch"], "--model"),
            (["synth", "--ratings", "-5", "--out", sample.directory.path], "--ratings"),
            (["train", "nosuch", "--ratings", sample.ratings] + out, "nosuch"),
            (["train", "mf", "--ratings", sample.ratings, "--objective", "ranking"] + out, "--objective"),
            (["train", "ials", "--ratings", sample.ratings, "--objective", "rating"] + out, "--objective"),
            (["train", "als", "--ratings", sample.ratings, "--unobserved-weight", "0.1"] + out, "--unobserved-weight"),
        ]
        for (arguments, flag) in cases {
            let run = try LatentRun.run(arguments, environment: environment, timeout: 30)
            let command = "latent \(arguments.joined(separator: " "))"
            XCTAssertTrue(run.exited, "\(command) crashed:\n\(run.standardError)")
            XCTAssertEqual(run.status, 64, "\(command):\n\(run.standardError)")
            Self.assertErrorLine(run, naming: flag, command: command)
            XCTAssertEqual(run.standardError.split(separator: "\n").count, 1, "\(command): a usage error is one line:\n\(run.standardError)")
        }
    }

    func testRuntimeFailuresGiveOneLineAndStatus1() throws {
        let sample = try Sample(self)
        let missing = sample.directory.appendingPathComponent("missing.model").path
        let run = try LatentRun.run(["eval", missing, "--ratings", sample.ratings], timeout: 30)
        XCTAssertEqual(run.status, 1, run.standardError)
        Self.assertErrorLine(run, naming: "missing.model", command: "latent eval")
    }

    // MARK: Model commands on a small file

    /// The benchmark's figures come out of a real run: both timings, and a ratio to the bound.
    func testBenchTopNPrintsTopNAgainstTheSgemmBound() throws {
        let sample = try Sample(self)
        let run = try LatentRun.run(["bench-topn", "--ratings", sample.ratings, "--k", "8", "--count", "10"], timeout: 120)
        XCTAssertEqual(run.status, 0, run.standardError)
        let lines = run.standardOutput.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("sgemm bound: ") && $0.contains("GFLOP/s") }, run.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("top-N: ") && $0.contains("x the bound") }, run.standardOutput)
    }

    func testTrainEvalRecommendAndSimilarOnASmallSample() throws {
        let sample = try Sample(self)
        for model in ["baseline", "mf", "als"] {
            let path = sample.directory.appendingPathComponent("\(model).model").path
            var arguments = ["train", model, "--ratings", sample.ratings, "--movies", sample.movies, "--out", path, "--seed", "3"]
            if model == "mf" { arguments += ["--k", "4", "--epochs", "5"] }
            if model == "als" { arguments += ["--k", "4", "--iterations", "3"] }
            let train = try LatentRun.run(arguments)
            XCTAssertEqual(train.status, 0, "latent \(arguments.joined(separator: " ")):\n\(train.standardError)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "train \(model) wrote no model")

            let eval = try LatentRun.run(["eval", path, "--ratings", sample.ratings])
            XCTAssertEqual(eval.status, 0, eval.standardError)
            let rmse = try XCTUnwrap(eval.standardOutput.firstMatch(of: #/rmse=([0-9.]+)/#).flatMap { Double($0.1) }, eval.standardOutput)
            XCTAssertLessThan(rmse, 1.2, "\(model) on its own training ratings: \(eval.standardOutput)")
            XCTAssertTrue(eval.standardOutput.contains("n=\(sample.ratingCount)"), eval.standardOutput)
        }

        let als = sample.directory.appendingPathComponent("als.model").path
        let recommend = try LatentRun.run(["recommend", als, "--user", "1", "--count", "5", "--ratings", sample.ratings, "--movies", sample.movies])
        XCTAssertEqual(recommend.status, 0, recommend.standardError)
        let rows = recommend.standardOutput.split(separator: "\n")
        XCTAssertEqual(rows.first, "rank\tmovie_id\tpredicted_rating\tranking_score\ttitle")
        XCTAssertEqual(rows.count, 6, recommend.standardOutput)
        let rated = sample.moviesRated(by: 1)
        for row in rows.dropFirst() {
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 5, String(row))
            let movie = try XCTUnwrap(Int64(fields[1]))
            XCTAssertFalse(rated.contains(movie), "recommended movie \(movie), which user 1 already rated")
            let rating = try XCTUnwrap(Double(fields[2]))
            XCTAssertTrue((0.5...5).contains(rating), String(row))
            XCTAssertFalse(fields[4].isEmpty, "no title: \(row)")
        }

        let similar = try LatentRun.run(["similar", als, "--movie", "1", "--count", "5", "--movies", sample.movies])
        XCTAssertEqual(similar.status, 0, similar.standardError)
        XCTAssertGreaterThanOrEqual(similar.standardOutput.split(separator: "\n").count, 5, similar.standardOutput)
        XCTAssertFalse(similar.standardOutput.split(separator: "\n").contains { $0.split(separator: "\t").dropFirst().first == "1" },
                       "movie 1 is listed as similar to itself:\n\(similar.standardOutput)")
    }

    /// `latent train mlp` on the small sample: the file it writes evaluates, recommends
    /// through the network (ratings on the scale, rated movies left out) and gives similar
    /// movies by its movie embeddings.
    func testTrainMLPThenEvalRecommendAndSimilar() throws {
        let sample = try Sample(self)
        let path = sample.directory.appendingPathComponent("mlp.model").path
        let arguments = ["train", "mlp", "--ratings", sample.ratings, "--movies", sample.movies, "--out", path,
                         "--seed", "3", "--k", "8", "--hidden", "16", "--epochs", "5"]
        let train = try LatentRun.run(arguments)
        XCTAssertEqual(train.status, 0, "latent \(arguments.joined(separator: " ")):\n\(train.standardError)")
        XCTAssertTrue(train.standardOutput.contains("model=mlp"), train.standardOutput)

        let eval = try LatentRun.run(["eval", path, "--ratings", sample.ratings])
        XCTAssertEqual(eval.status, 0, eval.standardError)
        let rmse = try XCTUnwrap(eval.standardOutput.firstMatch(of: #/rmse=([0-9.]+)/#).flatMap { Double($0.1) }, eval.standardOutput)
        XCTAssertLessThan(rmse, 1.2, "mlp on its own training ratings: \(eval.standardOutput)")

        let recommend = try LatentRun.run(["recommend", path, "--user", "1", "--count", "5", "--ratings", sample.ratings, "--movies", sample.movies])
        XCTAssertEqual(recommend.status, 0, recommend.standardError)
        let rows = recommend.standardOutput.split(separator: "\n").dropFirst()
        XCTAssertEqual(rows.count, 5, recommend.standardOutput)
        let rated = sample.moviesRated(by: 1)
        for row in rows {
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertFalse(rated.contains(try XCTUnwrap(Int64(fields[1]))), String(row))
            XCTAssertTrue((0.5...5).contains(try XCTUnwrap(Double(fields[2]))), String(row))
        }

        let similar = try LatentRun.run(["similar", path, "--movie", "1", "--count", "5", "--movies", sample.movies])
        XCTAssertEqual(similar.status, 0, similar.standardError)
        XCTAssertGreaterThanOrEqual(similar.standardOutput.split(separator: "\n").count, 5, similar.standardOutput)
    }

    /// `train als --objective ranking` trains the ials model (scores, not ratings), which eval
    /// --ranking and recommend read like any other.
    func testTrainALSWithTheRankingObjective() throws {
        let sample = try Sample(self)
        let path = sample.directory.appendingPathComponent("ials.model").path
        let arguments = ["train", "als", "--objective", "ranking", "--ratings", sample.ratings, "--movies", sample.movies,
                         "--out", path, "--seed", "3", "--k", "4", "--iterations", "3"]
        let train = try LatentRun.run(arguments)
        XCTAssertEqual(train.status, 0, "latent \(arguments.joined(separator: " ")):\n\(train.standardError)")
        XCTAssertTrue(train.standardOutput.contains("model=ials"), train.standardOutput)
        let eval = try LatentRun.run(["eval", path, "--ratings", sample.ratings, "--ranking", "--train", sample.ratings])
        XCTAssertEqual(eval.status, 0, eval.standardError)
        XCTAssertFalse(eval.standardOutput.contains("rmse="), "ials scores are not ratings: \(eval.standardOutput)")
        let recommend = try LatentRun.run(["recommend", path, "--user", "1", "--count", "5", "--ratings", sample.ratings])
        XCTAssertEqual(recommend.status, 0, recommend.standardError)
        XCTAssertEqual(recommend.standardOutput.split(separator: "\n").count, 6, recommend.standardOutput)
    }

    // MARK: Malformed files

    func testProduceNamesTheFileAndLineOfAMalformedRating() throws {
        let sample = try Sample(self)
        let bad = try sample.write("bad-ratings.csv", "userId,movieId,rating,timestamp\n1,2,4.0,964982703\n1,x,4.0,964982703\n")
        // No broker listens there: the file fails before anything needs one.
        let run = try LatentRun.run(["produce", "ratings", bad, "--brokers", "127.0.0.1:9"], timeout: 60)
        XCTAssertEqual(run.status, 1, run.standardError)
        Self.assertErrorLine(run, naming: "bad-ratings.csv:3", command: "latent produce ratings")
    }

    func testImportNamesTheFileAndLineAndWritesNothing() throws {
        let sample = try Sample(self)
        let database = try ScratchDatabase(self, prefix: "latent_cli")
        let environment = ["LATENT_DATABASE_URL": database.url]
        XCTAssertEqual(try LatentRun.run(["migrate"], environment: environment).status, 0)

        let ratings = try sample.write("ratings.csv", "userId,movieId,rating,timestamp\n1,2,4.0,964982703\n1,3,9.0,964982703\n")
        let importRatings = try LatentRun.run(["import", "ratings", ratings], environment: environment)
        XCTAssertEqual(importRatings.status, 1, importRatings.standardError)
        Self.assertErrorLine(importRatings, naming: "ratings.csv", command: "latent import ratings")
        XCTAssertTrue(importRatings.standardError.contains("3"), "no line number: \(importRatings.standardError)")

        let movies = try sample.write("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\nnot-a-number,Jumanji (1995),Fantasy\n")
        let importMovies = try LatentRun.run(["import", "movies", movies], environment: environment)
        XCTAssertEqual(importMovies.status, 1, importMovies.standardError)
        Self.assertErrorLine(importMovies, naming: "movies.csv:3", command: "latent import movies")

        let connection = try PostgresConnection(url: database.url)
        defer { connection.close() }
        XCTAssertEqual(try connection.query("select (select count(*) from latent.ratings) + (select count(*) from latent.movies)")[0, 0], "0")
    }

    // MARK: Helpers

    /// Standard error ends with one line `Error: ...` that names `text` (log lines may come
    /// before it); no crash report.
    static func assertErrorLine(_ run: LatentRun, naming text: String, command: String, file: StaticString = #filePath, line: UInt = #line) {
        let last = run.standardError.split(separator: "\n").last ?? ""
        XCTAssertTrue(last.hasPrefix("Error: "), "\(command):\n\(run.standardError)", file: file, line: line)
        XCTAssertTrue(last.contains(text), "\(command) does not name \(text):\n\(run.standardError)", file: file, line: line)
        for crash in ["Fatal error", "Stack dump", "backtrace", "Current stack trace"] {
            XCTAssertFalse(run.standardError.contains(crash), "\(command) crashed:\n\(run.standardError)", file: file, line: line)
        }
    }

    /// The argument paths of every command below `command` (`["import", "ratings"]`, ...).
    static func commandPaths(_ command: any ParsableCommand.Type, prefix: [String]) -> [[String]] {
        command.configuration.subcommands.flatMap { sub -> [[String]] in
            let name = sub.configuration.commandName ?? sub._commandName
            let path = prefix + [name]
            return [path] + commandPaths(sub, prefix: path)
        }
    }
}

/// A small MovieLens sample in a temporary folder: the first ratings of ml-latest-small (whole
/// users) with the movies they name.
final class Sample {
    let directory: URL
    let ratings: String
    let movies: String
    let ratingCount: Int
    private let rows: [(user: Int64, movie: Int64)]

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    init(_ test: XCTestCase) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("latent-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = Self.repository.appendingPathComponent("data/ml-latest-small")
        let allRatings = try String(contentsOf: source.appendingPathComponent("ratings.csv"), encoding: .utf8).split(whereSeparator: \.isNewline)
        // Users 1-20: about 3,000 ratings.
        let kept = allRatings.dropFirst().prefix { ($0.split(separator: ",").first.flatMap { Int($0) } ?? 0) <= 20 }
        rows = kept.map { line in
            let fields = line.split(separator: ",")
            return (Int64(fields[0]) ?? 0, Int64(fields[1]) ?? 0)
        }
        ratingCount = kept.count
        ratings = directory.appendingPathComponent("ratings.csv").path
        try ([String(allRatings[0])] + kept.map(String.init)).joined(separator: "\n").appending("\n").write(toFile: ratings, atomically: true, encoding: .utf8)
        let movieIDs = Set(rows.map { String($0.movie) })
        let allMovies = try String(contentsOf: source.appendingPathComponent("movies.csv"), encoding: .utf8).split(whereSeparator: \.isNewline)
        let keptMovies = allMovies.dropFirst().filter { movieIDs.contains(String($0.prefix { $0 != "," })) }
        movies = directory.appendingPathComponent("movies.csv").path
        try ([String(allMovies[0])] + keptMovies.map(String.init)).joined(separator: "\n").appending("\n").write(toFile: movies, atomically: true, encoding: .utf8)
        test.addTeardownBlock { [directory] in try? FileManager.default.removeItem(at: directory) }
    }

    func moviesRated(by user: Int64) -> Set<Int64> { Set(rows.filter { $0.user == user }.map(\.movie)) }

    /// Writes `text` to `name` in the sample's folder and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
