import ArgumentParser

@main
struct Latent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latent",
        abstract: "Turns a stream of movie ratings into recommendations readable with SQL.",
        subcommands: [
            MigrateCommand.self, ImportCommand.self, DevBrokerCommand.self,
            TrainCommand.self, PublishCommand.self, RunsCommand.self, ServeCommand.self, RetrainNowCommand.self, EvalCommand.self, RecommendCommand.self, SimilarCommand.self,
            SplitCommand.self, SynthCommand.self, ExperimentCommand.self, BenchFoldInCommand.self,
            IngestCommand.self, ProduceCommand.self, IngestBenchCommand.self,
        ]
    )

    /// Sets up logging before any subcommand runs, then parses and runs as usual.
    static func main() async {
        LogSetup.bootstrap()
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
