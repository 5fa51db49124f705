import ArgumentParser
import Foundation
import Models

/// `latent experiment held-out-users`: the strong-generalisation protocol of Liang, Krishnan,
/// Hoffman and Jebara, "Variational autoencoders for collaborative filtering" (2018), on
/// Latent's models.
struct HeldOutUsersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "held-out-users",
        abstract: "List quality for users no model saw in training, given 80% of their positives (Liang et al., \"Variational autoencoders for collaborative filtering\").",
        discussion: """
            Ratings >= 4 are positives. A seeded share of the users with at least 5 positives is \
            held out; every model trains on the other users' ratings with its defaults. Each \
            held-out user is folded in from 80% of their positives (the neural model's encoder \
            embeds them; ALS, ials and MF solve for their vector; EASE takes them as its input row; \
            popularity needs nothing) and their \
            list, without the fold-in movies, is measured against the other 20%: NDCG@10, \
            Recall@20 and Recall@50 divided by min(k, relevant) as in the paper, and NDCG@100. \
            --split-out writes the split (train.csv, fold-in.csv, test.csv) for other tools.
            """)

    @OptionGroup var source: DataSourceOptions

    @Option(help: "Comma-separated models: any of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var models = "neural,als,mf,popularity"

    @Option(name: .customLong("held-out-users"), help: "Fraction of the users with enough positives held out (at least one user).")
    var heldOutUsers = 0.1

    @Option(name: .customLong("held-out-count"), help: "Hold out exactly this many users instead of a fraction.")
    var heldOutCount: Int?

    @Option(name: .customLong("min-positives"), help: "Positives a user needs to be held out.")
    var minPositives = 5

    @Option(help: "Seed of the held-out users and of their 80/20 split.")
    var seed: UInt64 = 98765

    @Option(name: .customLong("split-out"), help: ArgumentHelp("Also write the split there as train.csv, fold-in.csv and test.csv.", valueName: "dir"))
    var splitOut: String?

    func validate() throws {
        try source.requireSource()
        _ = try modelKinds()
        guard heldOutUsers > 0, heldOutUsers < 1 else { throw ValidationError("--held-out-users must be in (0, 1), got \(heldOutUsers)") }
        if let heldOutCount, heldOutCount < 1 { throw ValidationError("--held-out-count must be at least 1, got \(heldOutCount)") }
        guard minPositives >= 2 else { throw ValidationError("--min-positives must be at least 2 (one to fold in, one to evaluate), got \(minPositives)") }
    }

    func modelKinds() throws -> [ModelKind] {
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--models needs at least one model") }
        return try names.map { name in
            guard let kind = ModelKind(rawValue: name) else {
                throw ValidationError("--models: '\(name)' is not one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
    }

    func run() throws {
        let (dataset, _) = try source.load()
        var configuration = HeldOutUsersExperiment.Configuration()
        (configuration.minimumPositives, configuration.heldOutFraction, configuration.heldOutCount) = (minPositives, heldOutUsers, heldOutCount)
        (configuration.seed, configuration.models) = (seed, try modelKinds().map(\.defaultConfiguration))
        let split = try HeldOutUsersSplit(dataset, configuration: configuration)
        if let splitOut {
            try FileManager.default.createDirectory(atPath: splitOut, withIntermediateDirectories: true)
            try SplitCommand.write(split.train, of: dataset, to: splitOut + "/train.csv")
            try SplitCommand.write(split.foldIn, of: dataset, to: splitOut + "/fold-in.csv")
            try SplitCommand.write(split.evaluation, of: dataset, to: splitOut + "/test.csv")
        }
        let rows = try HeldOutUsersExperiment.run(
            dataset, split: split, configuration: configuration, progress: ProgressReporter(label: "latent.experiment"))
        print(HeldOutUsersExperiment.table(rows, split: split, configuration: configuration), terminator: "")
        if let splitOut { print("split=\(splitOut)") }
    }
}
