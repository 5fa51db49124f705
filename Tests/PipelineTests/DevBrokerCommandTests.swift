import Foundation
import Kafka
import LatentTestSupport
import XCTest

/// `latent dev-broker` as ops/demo runs it: in the background, stopped with SIGTERM (or SIGINT
/// from a terminal) through its ServiceGroup's graceful shutdown.
final class DevBrokerCommandTests: XCTestCase {
    func testSIGTERMStopsTheBrokerOnceItServes() throws {
        try assertSignalStopsTheBroker(SIGTERM)
    }

    func testSIGINTStopsTheBrokerWhileAClientIsConnected() throws {
        try assertSignalStopsTheBroker(SIGINT, connectClient: true)
    }

    private func assertSignalStopsTheBroker(_ signal: Int32, connectClient: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
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
        XCTAssertTrue(served.hasPrefix("bootstrap=127.0.0.1:"), "no bootstrap line: \(served)", file: file, line: line)

        var producer: KafkaProducer?
        if connectClient {
            let bootstrap = served.dropFirst("bootstrap=".count).trimmingCharacters(in: .whitespacesAndNewlines)
            let client = try KafkaProducer(options: ["bootstrap.servers": bootstrap])
            try client.send(topic: "ratings", key: nil, value: Array("{}".utf8))
            try client.flush(timeoutMilliseconds: 10_000)
            producer = client
        }

        kill(process.processIdentifier, signal)
        let stopped = Date(timeIntervalSinceNow: 5)
        while process.isRunning, Date() < stopped { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(process.isRunning, "the broker ignored the signal", file: file, line: line)
        if !process.isRunning {
            XCTAssertEqual(process.terminationReason, .exit, "killed by the signal instead of shutting down", file: file, line: line)
            XCTAssertEqual(process.terminationStatus, 0, file: file, line: line)
        }
        withExtendedLifetime(producer) {}
    }
}
