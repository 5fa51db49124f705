import ArgumentParser
import Foundation
import Models

/// `latent synth`: a synthetic MovieLens-format dataset for scale benchmarks.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic dataset (ratings.csv, movies.csv) in MovieLens format.",
        discussion: """
            Power-law user activity and movie popularity, a planted low-rank structure with \
            biases and genre effects, half-star ratings 0.5..5. The same flags write the same \
            bytes. Real MovieLens sets above 100K cannot be shipped; this is the scale \
            benchmarks' input.
            """)

    @Option(help: "Number of ratings.")
    var ratings = 1_000_000

    @Option(help: "Number of users.")
    var users = 6_000

    @Option(help: "Number of movies.")
    var movies = 4_000

    @Option(help: "Rank of the planted structure.")
    var rank = 8

    @Option(help: "Standard deviation of the rating noise.")
    var noise = 0.6

    @Option(help: "Random seed.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("Folder for ratings.csv and movies.csv (created if missing).", valueName: "dir"))
    var out: String

    func run() throws {
        var configuration = Synthetic.Configuration()
        (configuration.ratings, configuration.users, configuration.movies) = (ratings, users, movies)
        (configuration.rank, configuration.noise, configuration.seed) = (rank, noise, seed)
        let started = Date()
        let paths = try Synthetic.write(configuration, to: out)
        let seconds = Date().timeIntervalSince(started)
        print("ratings=\(paths.ratings) movies=\(paths.movies) rows=\(ratings) seconds=\(MetricText.fixed(seconds))")
    }
}
