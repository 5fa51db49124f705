import ArgumentParser

/// `latent experiment`: the seed papers' experiments, reproducible from the CLI.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce the seed papers' experiments: a table on stdout and an SVG plot.",
        subcommands: [KSweepCommand.self, FoldInCommand.self])
}
