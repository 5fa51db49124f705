import Foundation
import XCTest
import Models

/// Timing runs for the report and ops/bench, only with LATENT_ALS_BENCH=1 (no timed
/// assertions): ALS on a synthetic 1M-rating set at k = 10 and 50, seconds per iteration.
/// Writes the exact train/test split to LATENT_ALS_BENCH_DIR (default /tmp/latent-als-bench)
/// so a reference library can be timed on the same data.
final class ALSSpeedTests: XCTestCase {
    func testSyntheticOneMillionTiming() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["LATENT_ALS_BENCH"] == "1" else { return }
        let folder = env["LATENT_ALS_BENCH_DIR"] ?? "/tmp/latent-als-bench"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ratingCount = Int(env["RATINGS"] ?? "1000000") ?? 1_000_000
        let users = Int(env["USERS"] ?? "6000") ?? 6000
        let movies = Int(env["MOVIES"] ?? "4000") ?? 4000
        let iterations = Int(env["ITERATIONS"] ?? "15") ?? 15
        let genreOptions = (env["GENRES"] ?? "0,1").split(separator: ",").map { $0 == "1" }
        let files = try Synthetic.write(.init(ratings: ratingCount, users: users, movies: movies), to: folder)
        let loadStart = Date()
        let dataset = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        print(String(format: "BENCH load=%.1fs", Date().timeIntervalSince(loadStart)))
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 7)
        for (name, part) in [("train", split.train), ("test", split.test)] where env["WRITE_SPLIT"] != "0" {
            var text = "user,movie,rating\n"
            for i in 0..<part.count {
                text += "\(dataset.users.ids[Int(part.users[i])]),\(dataset.movies.ids[Int(part.movies[i])]),\(part.ratings[i])\n"
            }
            try text.write(toFile: "\(folder)/\(name).csv", atomically: true, encoding: .utf8)
        }
        let ks = (env["KS"] ?? "10,50").split(separator: ",").compactMap { Int($0) }
        for k in ks {
            for genres in genreOptions {
                let c = AlternatingLeastSquares.Configuration(
                    k: k, iterations: iterations, lambda: Float(env["LAMBDA"] ?? "10") ?? 10, gamma: 3, regularizationExponent: 0,
                    useGenres: genres, threads: Int(env["THREADS"] ?? "2") ?? 2,
                    missingWeight: Float(env["MISSING"] ?? "0.003") ?? 0.003)
                let start = Date()
                let model = try AlternatingLeastSquares(configuration: c).fit(
                    ratings: split.train, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
                let seconds = Date().timeIntervalSince(start)
                print(String(format: "BENCH als k=%d missing=\(c.missingWeight) genres=%d ratings=%d users=%d movies=%d fit=%.3fs per-iteration=%.4fs test-rmse=%.4f",
                             k, genres ? 1 : 0, split.train.count, dataset.users.count, dataset.movies.count,
                             seconds, seconds / Double(iterations), rmse(model, split.test)))
            }
        }
    }
}
