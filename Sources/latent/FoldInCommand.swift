import ArgumentParser
import Foundation
import Models

/// `latent experiment fold-in`: error on held-out users against the number of their ratings
/// folded in, per k (Table 2 / Fig. 7 of the latent-spaces study, README reference 1), with the movie mean as the reference row.
struct FoldInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold-in",
        abstract: "Error of folded-in new users against the number of ratings used, per k (Table 2 of the latent-spaces study, README reference 1).")

    @OptionGroup var source: DataSourceOptions

    @Option(help: "Comma-separated values of k.")
    var ks = "1,2,3,5,10,20,40"

    @Option(help: "Comma-separated numbers of ratings folded in per held-out user.")
    var counts = "1,2,3,5,10,20"

    @Option(name: .customLong("held-out-users"), help: "Fraction of the eligible users held out.")
    var heldOutUsers = 0.1

    @Option(help: "Seed of the held-out users and of the models.")
    var seed: UInt64 = 42

    @Option(help: ArgumentHelp("Where to write the SVG plot.", valueName: "file"))
    var svg = "fold-in.svg"

    func validate() throws {
        try source.requireSource()
        _ = try ExperimentArguments.integers(ks, name: "--ks", minimum: 0)
        _ = try ExperimentArguments.integers(counts, name: "--counts", minimum: 1)
        guard heldOutUsers > 0, heldOutUsers < 1 else { throw ValidationError("--held-out-users must be in (0, 1), got \(heldOutUsers)") }
    }

    func run() throws {
        let (dataset, _) = try source.load()
        var configuration = FoldInCurve.Configuration(
            ks: try ExperimentArguments.integers(ks, name: "--ks", minimum: 0),
            ratingCounts: try ExperimentArguments.integers(counts, name: "--counts", minimum: 1),
            heldOutUserFraction: heldOutUsers, seed: seed)
        // FoldInCurve's own training settings (no missing-data term), with this seed.
        configuration.training.seed = seed
        let rows = try FoldInCurve.run(dataset, configuration: configuration)
        print(Self.table(rows), terminator: "")
        try ExperimentArguments.write(Self.plot(rows), to: svg)
        print("plot=\(svg)")
    }

    /// MSE by ratings used (rows) and k (columns), like Table 2 of the latent-spaces study (README reference 1).
    static func table(_ rows: [FoldInCurve.Row]) -> String {
        let columns = Array(Set(rows.map(\.k))).sorted { ($0 ?? -1) < ($1 ?? -1) }
        let counts = Array(Set(rows.map(\.ratingsUsed))).sorted()
        var out = "ratings" + columns.map { ($0.map { "k=\($0)" } ?? "mean").leftPadded(to: 9) }.joined() + "   users\n"
        for n in counts {
            out += "\(n)".leftPadded(to: 7)
            var users = 0
            for column in columns {
                let row = rows.first { $0.k == column && $0.ratingsUsed == n }
                out += (row.map { MetricText.fixed($0.mse) } ?? "-").leftPadded(to: 9)
                users = max(users, row?.users ?? 0)
            }
            out += "\(users)".leftPadded(to: 8) + "\n"
        }
        return out + "(values: MSE on the held-out users' remaining ratings; mean = each movie's mean rating)\n"
    }

    static func plot(_ rows: [FoldInCurve.Row]) -> String {
        let columns = Array(Set(rows.map(\.k))).sorted { ($0 ?? -1) < ($1 ?? -1) }
        let series = columns.map { column in
            SVGPlot.Series(
                name: column.map { "k = \($0)" } ?? "movie mean",
                points: rows.filter { $0.k == column }.sorted { $0.ratingsUsed < $1.ratingsUsed }
                    .map { (Double($0.ratingsUsed), $0.mse) })
        }
        return SVGPlot.lineChart(
            title: "New users: error against ratings folded in", xLabel: "ratings of the new user",
            yLabel: "MSE on their other ratings", series: series, xAxis: .categorical)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
