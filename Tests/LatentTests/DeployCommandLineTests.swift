import ArgumentParser
import Foundation
@testable import latent
import XCTest

/// Every command line in `deploy/` goes through the real argument parser (parse and
/// validate, never run), so a manifest cannot drift from the CLI.
final class DeployCommandLineTests: XCTestCase {
    func testEveryDeployedCommandLineParses() throws {
        let commands = try DeployedCommandLine.all()
        // A reader that silently finds nothing would pass vacuously: each kind of file counts.
        for kind in ["systemd", "compose", "kubernetes"] {
            XCTAssertTrue(commands.contains { $0.place.contains("/\(kind)/") }, "no command line found under deploy/\(kind)")
        }
        XCTAssertGreaterThanOrEqual(commands.count, 8, "\(commands.map(\.place))")

        // Every deployment passes the database and broker through its environment (an env
        // file, `environment:`, a ConfigMap and Secret); some validations read them.
        try withEnvironment(["LATENT_DATABASE_URL": "postgresql://latent@db.invalid/latent", "LATENT_KAFKA_BROKERS": "kafka.invalid:9092"]) {
            for command in commands {
                do {
                    _ = try Latent.parseAsRoot(command.arguments)
                } catch {
                    XCTFail("\(command.place): `latent \(command.arguments.joined(separator: " "))` does not parse: "
                            + Latent.message(for: error))
                }
            }
        }
    }

    func testBadFlagsAreRefused() {
        // What the check above relies on: the parser refuses what the CLI does not have.
        let ingest = ["ingest", "--brokers", "kafka.invalid:9092"]
        XCTAssertThrowsError(try Latent.parseAsRoot(ingest + ["--no-such-flag", "1"])) { error in
            XCTAssertTrue(Latent.message(for: error).contains("--no-such-flag"), Latent.message(for: error))
        }
        XCTAssertThrowsError(try Latent.parseAsRoot(ingest + ["--metrics-host", "not-an-address"])) { error in
            XCTAssertTrue(Latent.message(for: error).contains("--metrics-host"), Latent.message(for: error))
        }
    }

    func testMetricsHostComesFromTheFlagThenTheEnvironment() throws {
        let ingest = ["ingest", "--brokers", "kafka.invalid:9092"]
        try withEnvironment(["LATENT_METRICS_HOST": nil, "LATENT_METRICS_PORT": nil]) {
            let command = try XCTUnwrap(try Latent.parseAsRoot(ingest) as? IngestCommand)
            XCTAssertEqual(command.resolvedMetricsHost, "127.0.0.1")
            XCTAssertEqual(try command.resolvedMetricsPort, 0)
        }
        try withEnvironment(["LATENT_METRICS_HOST": "0.0.0.0", "LATENT_METRICS_PORT": "9464"]) {
            let command = try XCTUnwrap(try Latent.parseAsRoot(ingest) as? IngestCommand)
            XCTAssertEqual(command.resolvedMetricsHost, "0.0.0.0")
            XCTAssertEqual(try command.resolvedMetricsPort, 9464)
            let flagged = try XCTUnwrap(try Latent.parseAsRoot(ingest + ["--metrics-host", "10.1.2.3"]) as? IngestCommand)
            XCTAssertEqual(flagged.resolvedMetricsHost, "10.1.2.3")
        }
        try withEnvironment(["LATENT_METRICS_PORT": "nine"]) {
            XCTAssertThrowsError(try Latent.parseAsRoot(ingest)) { error in
                XCTAssertTrue(Latent.message(for: error).contains("LATENT_METRICS_PORT"), Latent.message(for: error))
            }
        }
    }

    /// Runs `body` with the given variables set (nil: unset), then restores them.
    private func withEnvironment(_ variables: [String: String?], _ body: () throws -> Void) throws {
        let saved = variables.keys.map { ($0, ProcessInfo.processInfo.environment[$0]) }
        defer {
            for (name, value) in saved {
                if let value { setenv(name, value, 1) } else { unsetenv(name) }
            }
        }
        for (name, value) in variables {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
        try body()
    }
}

/// A command line found in a file under `deploy/`: the arguments it gives `latent`.
struct DeployedCommandLine {
    /// `path:line` of the command.
    var place: String
    var arguments: [String]

    static let deployDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy")

    /// The command lines of every systemd unit and YAML file (compose, Kubernetes) in `deploy/`.
    static func all() throws -> [DeployedCommandLine] {
        guard let files = FileManager.default.enumerator(at: deployDirectory, includingPropertiesForKeys: nil) else {
            throw ReadError("cannot list \(deployDirectory.path)")
        }
        var found: [DeployedCommandLine] = []
        for case let file as URL in files {
            switch file.pathExtension {
            case "service": found += try systemd(file)
            case "yaml", "yml": found += try yaml(file)
            default: continue
            }
        }
        return found
    }

    /// `ExecStart=`-style lines whose program is `latent`.
    static func systemd(_ file: URL) throws -> [DeployedCommandLine] {
        let keys = ["ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost"]
        var found: [DeployedCommandLine] = []
        for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "="), keys.contains(String(trimmed[..<equals])) else { continue }
            // systemd's prefixes (-, @, :, +, !) change how the program runs, not its arguments.
            let command = trimmed[trimmed.index(after: equals)...].drop { "-@:+!".contains($0) }
            let words = try shellWords(String(command), place: place(file, number))
            guard let program = words.first, isLatent(program) else { continue }
            found.append(DeployedCommandLine(place: place(file, number), arguments: Array(words.dropFirst())))
        }
        return found
    }

    /// `command:` and `args:` values (a flow sequence, a block sequence or a plain string). A
    /// leading `latent` program (a Kubernetes `command`) is dropped: the image's entrypoint is latent.
    static func yaml(_ file: URL) throws -> [DeployedCommandLine] {
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found: [DeployedCommandLine] = []
        for (number, line) in lines.enumerated() {
            guard let match = line.firstMatch(of: #/^(\s*)(?:-\s+)?(command|args):\s*(.*?)\s*$/#) else { continue }
            let where_ = place(file, number)
            let value = String(match.3)
            var words: [String]
            if value.hasPrefix("[") {
                guard let data = value.data(using: .utf8), let items = try? JSONDecoder().decode([String].self, from: data) else {
                    throw ReadError("\(where_): cannot read \(value) (write the sequence on one line with every item quoted)")
                }
                words = items
            } else if value.isEmpty {
                // A block sequence: the following, deeper "- item" lines.
                words = []
                let indent = match.1.count
                for next in lines[(number + 1)...] {
                    let item = next.trimmingCharacters(in: .whitespaces)
                    guard next.prefix(while: { $0 == " " }).count > indent, item.hasPrefix("- ") else { break }
                    words.append(unquoted(String(item.dropFirst(2)).trimmingCharacters(in: .whitespaces)))
                }
            } else {
                words = try shellWords(value, place: where_)
            }
            if let program = words.first, isLatent(program) { words.removeFirst() }
            found.append(DeployedCommandLine(place: where_, arguments: words))
        }
        return found
    }

    private static func place(_ file: URL, _ index: Int) -> String {
        "deploy/\(file.path.dropFirst(deployDirectory.path.count + 1)):\(index + 1)"
    }

    private static func isLatent(_ program: String) -> Bool {
        program == "latent" || program.hasSuffix("/latent")
    }

    private static func unquoted(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first else { return text }
        return String(text.dropFirst().dropLast())
    }

    /// Splits on blanks, honouring single and double quotes (what systemd and YAML plain strings need here).
    private static func shellWords(_ text: String, place: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for character in text {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " || character == "\t" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil else { throw ReadError("\(place): unbalanced quote in \(text)") }
        if inWord { words.append(current) }
        return words
    }

    struct ReadError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
