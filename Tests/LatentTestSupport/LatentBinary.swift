import Foundation

/// The `latent` executable that `swift build` / `swift test` put next to the test bundle.
///
/// `swift test` builds it: `LatentTests` depends on the `latent` target, so every test build
/// of the package builds the executable too. `LATENT_BINARY` overrides the search.
package enum LatentBinary {
    /// Why the executable was not found, with every place looked at.
    package struct NotFound: Error, CustomStringConvertible {
        package var description: String
    }

    /// The executable's location, or ``NotFound``.
    package static func url() throws -> URL {
        let candidates = self.candidates()
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if FileManager.default.isExecutableFile(atPath: candidate.path),
               FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return candidate
            }
        }
        throw NotFound(description: "the latent executable was not found next to the test bundle (looked in \(candidates.map(\.path))); "
            + "build it first (swift build) or set LATENT_BINARY")
    }

    private static func candidates() -> [URL] {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["LATENT_BINARY"] { candidates.append(URL(fileURLWithPath: explicit)) }
        let bundle = Bundle.main.bundleURL
        candidates.append(bundle.appendingPathComponent("latent"))
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("latent"))
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            candidates.append(bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("latent"))
        }
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("latent"))
            directory = directory.deletingLastPathComponent()
        }
        return candidates
    }
}

/// One finished run of `latent`: exit status, how it ended and what it printed.
package struct LatentRun: Sendable {
    package var status: Int32
    /// False when a signal ended it (a crash, or the timeout's SIGKILL).
    package var exited: Bool
    package var standardOutput: String
    package var standardError: String

    /// Runs `latent arguments` to its end (SIGKILL after `timeout` seconds), with `environment`
    /// added to this process's (nil values remove a variable).
    package static func run(
        _ arguments: [String], environment: [String: String?] = [:], timeout: TimeInterval = 120
    ) throws -> LatentRun {
        let process = Process()
        process.executableURL = try LatentBinary.url()
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        process.environment = merged
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("latent-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return LatentRun(
            status: process.terminationStatus, exited: process.terminationReason == .exit,
            standardOutput: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
