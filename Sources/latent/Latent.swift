import ArgumentParser
import Foundation
import Models

@main
struct Latent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latent",
        abstract: "Turns a stream of movie ratings into recommendations readable with SQL.",
        subcommands: [
            MigrateCommand.self, ImportCommand.self, DevBrokerCommand.self,
            TrainCommand.self, PublishCommand.self, RunsCommand.self, ServeCommand.self, RetrainNowCommand.self, EvalCommand.self, RecommendCommand.self, SimilarCommand.self,
            SplitCommand.self, SynthCommand.self, ExperimentCommand.self, BenchFoldInCommand.self, BenchTopNCommand.self,
            IngestCommand.self, ProduceCommand.self, IngestBenchCommand.self,
        ]
    )

    /// This release of Latent.
    static let release = "0.1.0"

    @Flag(help: "Print the version, the CPU target of this build and the OpenBLAS in use, then exit.")
    var version = false

    /// `latent --version`; plain `latent` prints the help.
    func run() async throws {
        guard version else { throw CleanExit.helpRequest(self) }
        print(Self.versionText)
    }

    /// What `latent --version` prints: one `name: value` line each.
    static var versionText: String {
        """
        latent \(release)
        simd: \(BuildInfo.simdTarget)
        openblas: \(BuildInfo.openBLASConfiguration)
        openblas core: \(BuildInfo.openBLASCore) (\(BLASCoreSelection.origin))
        """
    }

    /// Sets up logging before any subcommand runs, then parses and runs as usual.
    static func main() async {
        BLASCoreSelection.upgradeIfGeneric()
        LogSetup.bootstrap()
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            fail(error)
        }
    }

    /// Exits for `error`: help and `--version` as usual; a usage error (status 64) or a failure
    /// (status 1) as one line on standard error, `Error: <message>`, naming the flag or file at
    /// fault, with a pointer to the command's help after a usage error.
    static func fail(_ error: any Error) -> Never {
        let code = exitCode(for: error)
        let text = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        // Help, --version and a bare exit code print what ArgumentParser prints.
        if code == .success || text.isEmpty { exit(withError: error) }
        var line = "Error: " + text
        if code == .validationFailure, let help = helpPointer(for: error) { line += " (see '\(help)')" }
        FileHandle.standardError.write(Data((line + "\n").utf8))
        Foundation.exit(code.rawValue)
    }

    /// `latent SUBCOMMAND --help` for the command a usage error came from, as ArgumentParser's
    /// full message names it.
    private static func helpPointer(for error: any Error) -> String? {
        guard let match = fullMessage(for: error).firstMatch(of: #/See '([^']+)'/#) else { return nil }
        return String(match.1)
    }
}
