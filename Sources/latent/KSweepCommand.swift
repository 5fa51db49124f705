import ArgumentParser
import Foundation
import Models

/// `latent experiment k-sweep`: test error against the number of latent dimensions
/// (Figure 8 of the latent-spaces study, README reference 1), MF-SGD on a seeded random holdout,
/// with the study's rating MLP beside it.
struct KSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "k-sweep",
        abstract: "Test error of MF-SGD against k (Figure 8 of the latent-spaces study, README reference 1), and of its rating MLP (§4.9) with embeddings of width k.")

    @OptionGroup var source: DataSourceOptions

    @Option(help: "Comma-separated values of k (0 is the biases-only model).")
    var ks = KSweep.seedKs.map(String.init).joined(separator: ",")

    @Option(name: .customLong("test-fraction"), help: "Fraction of the ratings held out for testing.")
    var testFraction = 0.1

    @Option(help: "Seed of the split and of the models.")
    var seed: UInt64 = 1

    @Option(help: "Maximum SGD epochs per model.")
    var epochs: Int?

    @Flag(name: .customLong("no-mlp"), help: "Leave out the rating MLP column (it trains one network per k > 0).")
    var noMLP = false

    @Option(help: ArgumentHelp("Where to write the SVG plot.", valueName: "file"))
    var svg = "k-sweep.svg"

    func validate() throws {
        try source.requireSource()
        _ = try ExperimentArguments.integers(ks, name: "--ks", minimum: 0)
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    }

    func run() throws {
        let (dataset, _) = try source.load()
        let split = try Splits.randomHoldout(dataset.ratings, testFraction: testFraction, seed: seed)
        var configuration = MatrixFactorizationSGD.Configuration()
        configuration.seed = seed
        if let epochs { configuration.epochs = epochs }
        var mlp = RatingMLP.Configuration()
        mlp.seed = seed
        if let epochs { mlp.epochs = epochs }
        let rows = try KSweep.run(
            dataset: dataset, split: split, ks: try ExperimentArguments.integers(ks, name: "--ks", minimum: 0),
            configuration: configuration, mlp: noMLP ? nil : mlp, progress: ProgressReporter(label: "latent.experiment"))
        print(KSweep.table(rows), terminator: "")
        try ExperimentArguments.write(KSweep.plot(rows), to: svg)
        print("plot=\(svg)")
    }
}

/// Parsing and output shared by the experiment subcommands.
enum ExperimentArguments {
    /// `"1,2,3"` as integers, each at least `minimum`.
    static func integers(_ text: String, name: String, minimum: Int) throws -> [Int] {
        let values = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !values.isEmpty else { throw ValidationError("\(name) needs at least one value") }
        return try values.map { value in
            guard let n = Int(value), n >= minimum else {
                throw ValidationError("\(name): '\(value)' is not a whole number >= \(minimum)")
            }
            return n
        }
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
