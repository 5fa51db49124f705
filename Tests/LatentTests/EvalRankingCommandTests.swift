import Foundation
import LatentTestSupport
import XCTest

/// `latent eval --ranking --at ...` on saved models of every kind, trained on a split of the
/// small MovieLens sample, and its usage errors.
final class EvalRankingCommandTests: XCTestCase {
    /// One metric line: `name: precision@K=... recall@K=... ndcg@K=... map@K=... coverage=... users=N`.
    struct Line {
        var name: String
        var k: Int
        var values: [String: Double]

        init?(_ text: Substring) {
            guard let colon = text.firstIndex(of: ":") else { return nil }
            name = String(text[..<colon])
            var values: [String: Double] = [:]
            var k = 0
            for field in text[text.index(after: colon)...].split(separator: " ") {
                let parts = field.split(separator: "=")
                guard parts.count == 2, let value = Double(parts[1]) else { return nil }
                let key = parts[0].split(separator: "@")
                if key.count == 2, let cutoff = Int(key[1]) { k = cutoff }
                values[String(key[0])] = value
            }
            self.k = k
            self.values = values
        }
    }

    func testRankingAtSeveralCutoffsForEveryModelKind() throws {
        let sample = try Sample(self)
        let splitDirectory = sample.directory.appendingPathComponent("split").path
        let split = try LatentRun.run(["split", "--ratings", sample.ratings, "--out", splitDirectory, "--seed", "4"])
        XCTAssertEqual(split.status, 0, split.standardError)
        let train = splitDirectory + "/train.csv", test = splitDirectory + "/test.csv"
        let extra: [String: [String]] = [
            "popularity": [], "baseline": [], "mf": ["--k", "4", "--epochs", "5"], "als": ["--k", "4", "--iterations", "3"],
            "neural": ["--k", "8", "--epochs", "10"],
        ]
        for (kind, options) in extra.sorted(by: { $0.key < $1.key }) {
            let path = sample.directory.appendingPathComponent("\(kind).model").path
            let arguments = ["train", kind, "--ratings", train, "--movies", sample.movies, "--out", path, "--seed", "3"] + options
            let trained = try LatentRun.run(arguments)
            XCTAssertEqual(trained.status, 0, "latent \(arguments.joined(separator: " ")):\n\(trained.standardError)")
            let ratesMovies = kind != "popularity" && kind != "neural"
            XCTAssertEqual(trained.standardOutput.contains("train_rmse="), ratesMovies, trained.standardOutput)

            let eval = try LatentRun.run(["eval", path, "--ratings", test, "--ranking", "--train", train, "--at", "20,5,10"])
            XCTAssertEqual(eval.status, 0, "eval \(kind): \(eval.standardError)")
            let lines = eval.standardOutput.split(separator: "\n")
            XCTAssertEqual(lines.first?.hasPrefix("rmse="), ratesMovies, "\(kind):\n\(eval.standardOutput)")
            let metrics = lines.compactMap(Line.init)
            XCTAssertEqual(metrics.map(\.name), ["model", "model", "model", "popularity", "popularity", "popularity"], eval.standardOutput)
            XCTAssertEqual(metrics.map(\.k), [5, 10, 20, 5, 10, 20], eval.standardOutput)
            for line in metrics {
                for key in ["precision", "recall", "ndcg", "map", "coverage"] {
                    let value = try XCTUnwrap(line.values[key], "\(kind) \(line.name)@\(line.k) has no \(key)")
                    XCTAssertTrue((0...1).contains(value), "\(kind): \(key)=\(value)")
                }
                XCTAssertGreaterThan(line.values["users"] ?? 0, 0)
            }
            for name in ["model", "popularity"] {
                let recalls = metrics.filter { $0.name == name }.map { $0.values["recall"] ?? 0 }
                XCTAssertEqual(recalls, recalls.sorted(), "\(kind) \(name): recall must grow with the cut-off")
                XCTAssertGreaterThan(recalls.last ?? 0, 0, "\(kind) \(name) finds nothing at 20:\n\(eval.standardOutput)")
            }
            // A saved popularity model ranks exactly as the baseline computed from the training file.
            if kind == "popularity" {
                for (model, popularity) in zip(metrics.prefix(3), metrics.suffix(3)) {
                    XCTAssertEqual(model.values, popularity.values, eval.standardOutput)
                }
            }
            if !ratesMovies {
                let plain = try LatentRun.run(["eval", path, "--ratings", test])
                XCTAssertEqual(plain.status, 1, plain.standardError)
                CLITests.assertErrorLine(plain, naming: "--ranking", command: "latent eval \(kind) model without --ranking")
            }
        }
    }

    func testBadCutoffsAreOneLineUsageErrors() throws {
        let sample = try Sample(self)
        // Validation runs before the model is read: no model file is needed.
        let model = sample.directory.appendingPathComponent("unread.model").path
        let ranking = ["eval", model, "--ratings", sample.ratings, "--ranking", "--train", sample.ratings]
        let cases: [[String]] = [
            ranking + ["--at", "0"], ranking + ["--at", "ten"], ranking + ["--at", "10,x"], ranking + ["--at", ""],
            ranking + ["--at", "10,20000"], ranking + ["--at", "2.5"],
            ["eval", model, "--ratings", sample.ratings, "--at", "10"],
        ]
        for arguments in cases {
            let run = try LatentRun.run(arguments, timeout: 30)
            let command = "latent \(arguments.joined(separator: " "))"
            XCTAssertTrue(run.exited, "\(command) crashed:\n\(run.standardError)")
            XCTAssertEqual(run.status, 64, "\(command):\n\(run.standardError)")
            CLITests.assertErrorLine(run, naming: "--at", command: command)
            XCTAssertEqual(run.standardError.split(separator: "\n").count, 1, "\(command): a usage error is one line:\n\(run.standardError)")
        }
    }
}
