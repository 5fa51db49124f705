import ArgumentParser

/// `latent experiment`: the seed papers' experiments, reproducible from the CLI.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce published experiments: a table on stdout (and an SVG plot where there is a curve).",
        subcommands: [KSweepCommand.self, FoldInCommand.self, HeldOutUsersCommand.self])
}
