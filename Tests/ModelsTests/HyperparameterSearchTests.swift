@testable import Models
import XCTest

final class HyperparameterSearchTests: XCTestCase {
    private func data() throws -> Dataset {
        try MovieLens.loadDataset(ratings: MovieLensTestFiles.latestSmallRatings, movies: MovieLensTestFiles.latestSmallMovies)
    }

    func testRatingModelsMinimiseRMSEAndTheStartIsTriedFirst() throws {
        let dataset = try data()
        let start = ModelConfiguration.als(.init(k: 8, iterations: 3))
        let trials = try HyperparameterSearch(trials: 4, seed: 3).run(from: start, ratings: dataset.ratings, of: dataset)
        XCTAssertEqual(trials.count, 4)
        XCTAssertEqual(trials.map(\.loss), trials.map(\.validation.rmse))
        XCTAssertEqual(trials.map(\.loss), trials.map(\.loss).sorted(), "best first")
        XCTAssertTrue(trials.contains { $0.configuration == start })
        for trial in trials {
            XCTAssertNil(trial.ndcg)
            let lambda = try XCTUnwrap(trial.configuration.tunedValues[.lambda])
            XCTAssertTrue((14.0 / 2 ... 14.0 * 2).contains(lambda), "a draw stays around the start: lambda \(lambda)")
        }
    }

    func testRankingModelsMaximiseNDCG() throws {
        let dataset = try data()
        var c = NeuralEmbedder.Configuration()
        c.epochs = 5
        c.evaluationInterval = 5
        let trials = try HyperparameterSearch(trials: 2, seed: 3).run(from: .neural(c), ratings: dataset.ratings, of: dataset)
        XCTAssertEqual(trials.count, 2)
        for trial in trials { XCTAssertEqual(trial.loss, -(try XCTUnwrap(trial.ndcg))) }
        XCTAssertGreaterThanOrEqual(trials[0].ndcg ?? 0, trials[1].ndcg ?? 0)
    }

    func testPinnedParametersKeepTheStartsValue() throws {
        var search = HyperparameterSearch(trials: 6, seed: 5)
        search.pinned = [.k]
        let start = ModelConfiguration.als(.init(k: 48))
        let candidates = search.candidates(around: start)
        XCTAssertEqual(candidates.count, 6)
        XCTAssertEqual(Set(candidates.map { $0.tunedValues[.k] }), [48])
    }

    func testTheBudgetStopsStartingTrials() throws {
        let dataset = try data()
        let start = ModelConfiguration.als(.init(k: 8, iterations: 3))
        // A budget smaller than any trial: the first trial runs, no second one starts.
        let trials = try HyperparameterSearch(trials: 8, seed: 3, budget: 1e-6).run(from: start, ratings: dataset.ratings, of: dataset)
        XCTAssertEqual(trials.map(\.configuration), [start])
    }

    func testTunedValuesRoundTripAndOtherKindsValuesChangeNothing() {
        let als = ModelConfiguration.als(.init(k: 32, lambda: 10, gamma: 2))
        XCTAssertEqual(als.applying(als.tunedValues), als)
        XCTAssertEqual(als.applying([.k: 64, .lambda: 20]).tunedValues, [.k: 64, .lambda: 20, .gamma: 2])
        XCTAssertEqual(als.applying([.dropout: 0.3, .learningRate: 0.1]), als)
        XCTAssertTrue(ModelConfiguration.popularity.tunedValues.isEmpty)
    }
}
