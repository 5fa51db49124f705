import ArgumentParser

@main
struct Latent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latent",
        abstract: "Turns a stream of movie ratings into recommendations readable with SQL.",
        subcommands: [MigrateCommand.self, ImportCommand.self, DevBrokerCommand.self]
    )
}
