import ArgumentParser
import Foundation
import Models

/// `latent split`: writes a seeded train/test split of a ratings file as two ratings.csv files,
/// so benchmarks feed exactly the same rows to Latent and to the reference libraries.
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split a ratings file into train.csv and test.csv (random, per-user or temporal).")

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case random, temporal
    }

    @Option(help: ArgumentHelp("A MovieLens ratings file.", valueName: "file"))
    var ratings: String

    @Option(name: .customLong("test-fraction"), help: "Fraction of the ratings in test.csv.")
    var testFraction = 0.1

    @Option(help: "random (seeded) or temporal (the newest ratings go to test).")
    var method: Method = .random

    @Option(help: "Seed of the random split.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Folder for train.csv and test.csv (created if missing).", valueName: "dir"))
    var out: String

    func validate() throws {
        guard testFraction > 0, testFraction < 1 else {
            throw ValidationError("--test-fraction must be between 0 and 1, got \(testFraction)")
        }
    }

    func run() throws {
        let dataset = try MovieLens.loadDataset(ratings: ratings, movies: nil)
        let split: RatingSplit
        switch method {
        case .random: split = try Splits.randomHoldout(dataset.ratings, testFraction: testFraction, seed: seed)
        case .temporal: split = try Splits.temporal(dataset.ratings, testFraction: testFraction)
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Self.write(split.train, of: dataset, to: out + "/train.csv")
        try Self.write(split.test, of: dataset, to: out + "/test.csv")
        print("train=\(split.train.count) test=\(split.test.count) out=\(out)")
    }

    /// Writes `userId,movieId,rating,timestamp` rows (ML-latest format).
    static func write(_ triples: RatingTriples, of dataset: Dataset, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("cannot write \(path)")
        }
        defer { try? handle.close() }
        var buffer = "userId,movieId,rating,timestamp\n"
        for i in 0..<triples.count {
            buffer += "\(dataset.users.ids[Int(triples.users[i])]),\(dataset.movies.ids[Int(triples.movies[i])]),\(triples.ratings[i]),\(triples.timestamps[i])\n"
            if buffer.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer = ""
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
    }
}
