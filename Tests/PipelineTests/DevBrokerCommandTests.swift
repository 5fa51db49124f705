import Foundation
import XCTest

/// `latent dev-broker` as ops/demo runs it: in the background, stopped with SIGTERM.
final class DevBrokerCommandTests: XCTestCase {
    func testSIGTERMStopsTheBrokerOnceItServes() throws {
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("latent-dev-broker-\(getpid())-\(UUID().uuidString.prefix(8)).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = try LatentBinary.url()
        process.arguments = ["dev-broker", "--partitions", "2"]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let ready = Date(timeIntervalSinceNow: 30)
        var served = ""
        while Date() < ready, process.isRunning, !served.hasPrefix("bootstrap=") {
            Thread.sleep(forTimeInterval: 0.05)
            served = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        XCTAssertTrue(served.hasPrefix("bootstrap=127.0.0.1:"), "no bootstrap line: \(served)")

        kill(process.processIdentifier, SIGTERM)
        let stopped = Date(timeIntervalSinceNow: 5)
        while process.isRunning, Date() < stopped { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(process.isRunning, "the broker ignored SIGTERM")
        if !process.isRunning { XCTAssertEqual(process.terminationStatus, 0) }
    }
}
