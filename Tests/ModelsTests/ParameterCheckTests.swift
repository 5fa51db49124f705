import XCTest
@testable import Models

final class ParameterCheckTests: XCTestCase {
    /// The requirement a user reads comes from the rule, so a boundary value and its message agree.
    func testIntervalsAcceptTheirEndsAndNameThem() throws {
        try ParameterCheck.real("dropout", Float(0), in: .closedOpen(0, 1))
        XCTAssertEqual(requirement { try ParameterCheck.real("dropout", Float(1), in: .closedOpen(0, 1)) }, "dropout: in [0, 1)")
        try ParameterCheck.real("decay", Float(1), in: .openClosed(0, 1))
        XCTAssertEqual(requirement { try ParameterCheck.real("decay", Float(0), in: .openClosed(0, 1)) }, "decay: in (0, 1]")
        XCTAssertEqual(requirement { try ParameterCheck.real("split", 0.5, in: .closedOpen(0, 0.5)) }, "split: in [0, 0.5)")
        try ParameterCheck.real("exponent", 3.0, in: .closed(0, 3))
    }

    func testNaNAndInfinityNeverPass() {
        XCTAssertEqual(requirement { try ParameterCheck.real("x", Float.nan, in: .closed(0, 1)) }, "x: in [0, 1]")
        XCTAssertEqual(requirement { try ParameterCheck.positive("lambda", Float.infinity) }, "lambda: a positive number")
        XCTAssertEqual(requirement { try ParameterCheck.nonNegative("gamma", Float.nan) }, "gamma: zero or positive")
        XCTAssertEqual(requirement { try ParameterCheck.finite("scale", Float(-1)...Float.infinity) }, "scale: finite")
    }

    func testIntegersWithNotes() throws {
        try ParameterCheck.integer("blocks", 0, in: 0...256, note: "automatic")
        XCTAssertEqual(requirement { try ParameterCheck.integer("blocks", 257, in: 0...256, note: "automatic") },
                       "blocks: between 0 (automatic) and 256")
        XCTAssertEqual(requirement { try ParameterCheck.integer("positives", 1, atLeast: 2, note: "one to fold in, one to evaluate") },
                       "positives: at least 2 (one to fold in, one to evaluate)")
    }

    /// The shared early-stopping check names whichever of its three settings is wrong.
    func testEarlyStoppingNamesTheSettingOutOfRange() throws {
        try ParameterCheck.earlyStopping(epochs: 1, validationFraction: 0, patience: 1)
        XCTAssertEqual(requirement { try ParameterCheck.earlyStopping(epochs: 0, validationFraction: 0.1, patience: 3) }, "epochs: at least 1")
        XCTAssertEqual(requirement { try ParameterCheck.earlyStopping(epochs: 9, validationFraction: 0.5, patience: 3) },
                       "validationFraction: in [0, 0.5)")
        XCTAssertEqual(requirement { try ParameterCheck.earlyStopping(epochs: 9, validationFraction: 0.1, patience: 0) }, "patience: at least 1")
    }

    func testConfigurationsRejectThroughTheChecks() {
        XCTAssertEqual(requirement { try AlternatingLeastSquares.Configuration(missingWeight: 1).validate() }, "missingWeight: in [0, 1)")
        XCTAssertEqual(requirement { try MatrixFactorizationSGD.Configuration(blocks: 300).validate() },
                       "blocks: between 0 (automatic) and 256")
        XCTAssertEqual(requirement { try NeuralEmbedder.Configuration(patience: 0).validate() }, "patience: at least 1")
    }

    /// "name: requirement" of the ModelError `body` throws, or "passed".
    private func requirement(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "passed"
        } catch ModelError.invalidParameter(let name, _, let requirement) {
            return "\(name): \(requirement)"
        } catch {
            return "\(error)"
        }
    }
}
