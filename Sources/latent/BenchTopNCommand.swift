import ArgumentParser
import Foundation
import Models

/// `latent bench-topn` (hidden, for ops/bench/publish): seconds for every user's top-N with
/// rated movies excluded, against the sgemm bound measured in the same process: the same
/// users x movies x k product through the same OpenBLAS, blocked and on the same threads, with
/// nothing selected.
struct BenchTopNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-topn", abstract: "Time top-N for every user (benchmark).", shouldDisplay: false)

    @Option(help: ArgumentHelp("A MovieLens ratings file (its users, movies and rated pairs).", valueName: "file"))
    var ratings: String

    @Option(help: "Latent dimensions of the (random, seeded) factors.")
    var k = 64

    @Option(help: "List length.")
    var count = 100

    /// Timed repetitions; the best is reported.
    private static let repetitions = 3
    private static let threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1, got \(k)") }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
    }

    func run() throws {
        let dataset = try MovieLens.loadDataset(ratings: ratings, movies: nil)
        let model = randomModel(dataset)
        let users = dataset.users.count, movies = dataset.movies.count

        let csrStart = Date()
        let rated = SparseRatings(dataset.ratings, userCount: users, movieCount: movies)
        let csrSeconds = Date().timeIntervalSince(csrStart)

        let bound = best { _ = model.scoreAllUsers(threads: Self.threads) }
        let topN = try best { _ = try model.topNForAllUsers(count: count, excluding: rated, threads: Self.threads) }
        let flops = 2.0 * Double(users) * Double(movies) * Double(k)
        print("users=\(users) movies=\(movies) k=\(k) N=\(count) threads=\(Self.threads)")
        print("rated CSR: \(MetricText.fixed(csrSeconds)) s (built once per snapshot)")
        print("sgemm bound: \(MetricText.fixed(bound.wall)) s wall, \(MetricText.fixed(bound.cpu)) s CPU (\(MetricText.fixed(flops / bound.wall / 1e9)) GFLOP/s)")
        print("top-N: \(MetricText.fixed(topN.wall)) s wall, \(MetricText.fixed(topN.cpu)) s CPU -> \(MetricText.fixed(topN.wall / bound.wall))x the bound (CPU \(MetricText.fixed(topN.cpu / bound.cpu))x)")
    }

    private func randomModel(_ dataset: Dataset) -> FactorModel {
        var rng = SplitMix64(seed: 7)
        let draw = { (n: Int) in (0..<n).map { _ in Float(rng.nextNormal()) * 0.3 } }
        let users = dataset.users.count, movies = dataset.movies.count
        return FactorModel(
            kind: .als, k: k, globalMean: 3.5, userBias: draw(users), movieBias: draw(movies),
            userFactors: draw(users * k), movieFactors: draw(movies * k), users: dataset.users, movies: dataset.movies)
    }

    /// The best wall and CPU seconds of `repetitions` runs (CPU time is steadier on a shared machine).
    private func best(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
        var wall = Double.infinity, cpu = Double.infinity
        for _ in 0..<Self.repetitions {
            let start = Date(), cpuStart = Self.processCPUSeconds()
            try body()
            wall = min(wall, Date().timeIntervalSince(start))
            cpu = min(cpu, Self.processCPUSeconds() - cpuStart)
        }
        return (wall, cpu)
    }

    private static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
