import ArgumentParser
import Foundation
import Pipeline

/// `latent runs list|promote|drop`: the published runs, rollback, and clean-up.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List published runs, make a kept run current again (rollback), or drop a run's rows.",
        subcommands: [List.self, Promote.self, Drop.self])

    /// Runs `body` on a catalogue over a new connection; a ``PublishError`` becomes a one-line failure.
    static func withCatalog<T>(_ database: DatabaseOptions, _ body: (RunCatalog) throws -> T) throws -> T {
        let connection = try database.connect()
        defer { connection.close() }
        do {
            return try body(RunCatalog(connection: connection))
        } catch let error as PublishError {
            throw CommandFailure(error.description)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The newest runs, newest first.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Only this model's runs.")
        var model: String?

        @Option(help: "How many runs to show.")
        var limit = 20

        func validate() throws {
            try database.requireURL()
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1, got \(limit)") }
        }

        func run() throws {
            let connection = try database.connect()
            defer { connection.close() }
            let entries = try RunCatalog(connection: connection).list(model: model, limit: limit)
            print("run_id  model       status     started (UTC)        ratings    rows  metrics")
            for e in entries {
                let columns = [
                    String(e.runID).padding(toLength: 7, withPad: " ", startingAt: 0),
                    e.model.padding(toLength: 11, withPad: " ", startingAt: 0),
                    e.status.padding(toLength: 10, withPad: " ", startingAt: 0),
                    e.startedAt.padding(toLength: 20, withPad: " ", startingAt: 0),
                    String(e.ratings ?? 0).padding(toLength: 10, withPad: " ", startingAt: 0),
                    (e.hasRows ? "yes" : "no").padding(toLength: 5, withPad: " ", startingAt: 0),
                    (e.metrics ?? "") + (e.reason.map { "  reason: \($0)" } ?? ""),
                ]
                print(columns.joined(separator: " "))
            }
        }
    }

    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a kept run the current run of its model (rollback), whatever the guardrail says.")

        @OptionGroup var selection: RunSelection

        func run() throws {
            let preferred = ProcessInfo.processInfo.environment["LATENT_SERVE_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
            let serving = try RunsCommand.withCatalog(selection.database) { try $0.promote(selection.runID, preferredServing: preferred) }
            print("run \(selection.runID) is current; lists: \(serving?.lists ?? "none"), vectors: \(serving?.vectors ?? "none")")
        }
    }

    struct Drop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop a run's published rows (never the current run's); its history row stays.")

        @OptionGroup var selection: RunSelection

        func run() throws {
            try RunsCommand.withCatalog(selection.database) { try $0.drop(selection.runID) }
            print("dropped the rows of run \(selection.runID)")
        }
    }
}

/// The database and the run a `latent runs` subcommand acts on.
struct RunSelection: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The run's id (see latent runs list).")
    var runID: Int64

    func validate() throws { try database.requireURL() }
}
