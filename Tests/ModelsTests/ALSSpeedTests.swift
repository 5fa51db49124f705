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
        let files = try Synthetic.write(.init(ratings: ratingCount), to: folder)
        let dataset = try MovieLens.loadDataset(ratings: files.ratings, movies: files.movies)
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: 0.1, seed: 7)
        for (name, part) in [("train", split.train), ("test", split.test)] {
            var text = "user,movie,rating\n"
            for i in 0..<part.count {
                text += "\(dataset.users.ids[Int(part.users[i])]),\(dataset.movies.ids[Int(part.movies[i])]),\(part.ratings[i])\n"
            }
            try text.write(toFile: "\(folder)/\(name).csv", atomically: true, encoding: .utf8)
        }
        let ks = (env["KS"] ?? "10,50").split(separator: ",").compactMap { Int($0) }
        for k in ks {
            for genres in [false, true] {
                let c = AlternatingLeastSquares.Configuration(
                    k: k, iterations: 15, lambda: Float(env["LAMBDA"] ?? "10") ?? 10, gamma: 3, regularizationExponent: 0,
                    useGenres: genres, threads: 2)
                let start = Date()
                let model = try AlternatingLeastSquares(configuration: c).fit(
                    ratings: split.train, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
                let seconds = Date().timeIntervalSince(start)
                print(String(format: "BENCH als k=%d genres=%d ratings=%d users=%d movies=%d fit=%.3fs per-iteration=%.4fs test-rmse=%.4f",
                             k, genres ? 1 : 0, split.train.count, dataset.users.count, dataset.movies.count,
                             seconds, seconds / 15, rmse(model, split.test)))
            }
        }
    }
}
