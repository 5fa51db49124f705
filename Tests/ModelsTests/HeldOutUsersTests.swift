import Foundation
import XCTest
import Models

/// The strong-generalisation protocol of Liang et al. (2018): its list metrics on hand-computed
/// cases, its split on ML-100K, and the neural model against popularity on held-out users.
final class HeldOutUsersTests: XCTestCase {
    func testListMetricsMatchHandComputedValues() {
        let list: [Int64] = [1, 2, 3, 4, 5]
        let relevant: Set<Int64> = [2, 5, 9]
        // One hit in the first two, of min(2, 3) possible; two in five, of min(5, 3).
        XCTAssertEqual(ListMetrics.recall(list, relevant: relevant, k: 2), 0.5, accuracy: 1e-12)
        XCTAssertEqual(ListMetrics.recall(list, relevant: relevant, k: 5), 2.0 / 3.0, accuracy: 1e-12)
        // Hits at ranks 2 and 5: (1/log2 3 + 1/log2 6) / (1 + 1/log2 3 + 1/log2 4).
        XCTAssertEqual(ListMetrics.ndcg(list, relevant: relevant, k: 5), 0.4776237035032179, accuracy: 1e-12)
        // At 2 the ideal list has two hits: (1/log2 3) / (1 + 1/log2 3).
        XCTAssertEqual(ListMetrics.ndcg(list, relevant: relevant, k: 2), 0.38685280723454163, accuracy: 1e-12)
        // Thirty relevant movies, a list of twenty hits: perfect at 20 once normalised by min(k, relevant).
        let many = Set<Int64>(100..<130)
        let hits = Array<Int64>(100..<120)
        XCTAssertEqual(ListMetrics.recall(hits, relevant: many, k: 20), 1, accuracy: 1e-12)
        XCTAssertEqual(ListMetrics.ndcg(hits, relevant: many, k: 20), 1, accuracy: 1e-12)
        XCTAssertEqual(ListMetrics.recall(hits, relevant: many, k: 50), 20.0 / 30.0, accuracy: 1e-12)
        XCTAssertEqual(ListMetrics.recall(list, relevant: [], k: 5), 0)
        XCTAssertEqual(ListMetrics.ndcg(list, relevant: [], k: 5), 0)
        XCTAssertEqual(ListMetrics.ndcg([Int64](), relevant: relevant, k: 5), 0)
    }

    func testSplitOnML100K() throws {
        let dataset = try loadML100K()
        let configuration = configured(HeldOutUsersExperiment.Configuration()) { $0.seed = 7 }
        let split = try HeldOutUsersSplit(dataset, configuration: configuration)
        let ratings = dataset.ratings
        var positives = [Int](repeating: 0, count: dataset.users.count)
        for p in 0..<ratings.count where ratings.ratings[p] >= 4 { positives[Int(ratings.users[p])] += 1 }
        let eligible = positives.filter { $0 >= 5 }.count
        let expected = Int((Double(eligible) * 0.1).rounded())
        XCTAssertGreaterThan(split.users.count, expected - 3)
        XCTAssertLessThanOrEqual(split.users.count, expected)
        XCTAssertEqual(split.users, split.users.sorted())

        let held = Set(split.users)
        XCTAssertFalse(split.train.users.contains { held.contains($0) }, "a held-out user's rating is in training")
        XCTAssertTrue(Set(split.foldIn.users).isSubset(of: held))
        XCTAssertEqual(Set(split.evaluation.users), held)
        XCTAssertTrue(split.foldIn.ratings.allSatisfy { $0 >= 4 } && split.evaluation.ratings.allSatisfy { $0 >= 4 })
        for u in split.users {
            let folded = Set((0..<split.foldIn.count).filter { split.foldIn.users[$0] == u }.map { split.foldIn.movies[$0] })
            let evaluated = Set((0..<split.evaluation.count).filter { split.evaluation.users[$0] == u }.map { split.evaluation.movies[$0] })
            XCTAssertTrue(folded.isDisjoint(with: evaluated), "user \(u)")
            XCTAssertFalse(folded.isEmpty)
            // The paper's int(0.2 n), at least one.
            XCTAssertEqual(evaluated.count, max(1, Int(Double(folded.count + evaluated.count) * 0.2)), "user \(u)")
            XCTAssertTrue(evaluated.union(folded).allSatisfy { split.trainedMovies[Int($0)] })
        }

        let again = try HeldOutUsersSplit(dataset, configuration: configuration)
        XCTAssertEqual(again.users, split.users)
        XCTAssertEqual(again.evaluation, split.evaluation)
        let other = try HeldOutUsersSplit(dataset, configuration: configured(.init()) { $0.seed = 8 })
        XCTAssertNotEqual(other.users, split.users)
        let one = try HeldOutUsersSplit(dataset, configuration: configured(.init()) { $0.heldOutCount = 1; $0.seed = 7 })
        XCTAssertEqual(one.users.count, 1)
        XCTAssertThrowsError(try HeldOutUsersSplit(dataset, configuration: configured(.init()) { $0.heldOutCount = eligible + 1 })) { error in
            guard case ModelError.emptyData(let text) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("\(eligible)"), text)
        }
        XCTAssertThrowsError(try HeldOutUsersSplit(dataset, configuration: configured(.init()) { $0.minimumPositives = 1 }))
    }

    /// Popularity's row computed independently: each held-out user's list is the training
    /// order by rating count, without their fold-in movies.
    func testPopularityRowMatchesAnIndependentComputation() throws {
        let dataset = try loadML100K()
        let configuration = configured(HeldOutUsersExperiment.Configuration()) { $0.seed = 11; $0.models = [.popularity] }
        let split = try HeldOutUsersSplit(dataset, configuration: configuration)
        let row = try XCTUnwrap(HeldOutUsersExperiment.run(dataset, split: split, configuration: configuration).first)

        var counts = [Int](repeating: 0, count: dataset.movies.count)
        for m in split.train.movies { counts[Int(m)] += 1 }
        let order = counts.indices.filter { counts[$0] > 0 }.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        var ndcg = 0.0, recall = 0.0
        for u in split.users {
            let folded = Set((0..<split.foldIn.count).filter { split.foldIn.users[$0] == u }.map { Int(split.foldIn.movies[$0]) })
            let relevant = Set((0..<split.evaluation.count).filter { split.evaluation.users[$0] == u }.map { Int(split.evaluation.movies[$0]) })
            let list = Array(order.lazy.filter { !folded.contains($0) }.prefix(100))
            ndcg += ListMetrics.ndcg(list, relevant: relevant, k: 100)
            recall += ListMetrics.recall(list, relevant: relevant, k: 20)
        }
        XCTAssertEqual(row.metrics.ndcgAt100, ndcg / Double(split.users.count), accuracy: 1e-9)
        XCTAssertEqual(row.metrics.recallAt20, recall / Double(split.users.count), accuracy: 1e-9)
        XCTAssertGreaterThan(row.metrics.ndcgAt100, 0.05)
    }

    /// The neural model embeds held-out users from their fold-in positives through its encoder
    /// and must list their other positives at least twice as well as popularity by NDCG@10
    /// (measured 0.295 against 0.136). By NDCG@100 the bound is 1.75x: deep in the list
    /// popularity catches up on ML-100K, and no model here doubles it (measured on this split:
    /// neural 0.441, EASE 0.458, popularity 0.239; 1.8x on two other seeds with 188 users).
    /// ALS and MF fold in by their regularised solve; their figures must at least be sane.
    func testNeuralModelOnHeldOutUsersOfML100KBeatsPopularity() throws {
        let dataset = try loadML100K()
        let configuration = configured(HeldOutUsersExperiment.Configuration()) {
            $0.seed = 98765
            $0.models = [.neural(.init(seed: 42)), .als(.init()), .mf(.init()), .popularity]
        }
        let split = try HeldOutUsersSplit(dataset, configuration: configuration)
        let rows = try HeldOutUsersExperiment.run(dataset, split: split, configuration: configuration)
        XCTAssertEqual(rows.map(\.model), [.neural, .als, .mf, .popularity])
        let neural = rows[0].metrics, popularity = rows[3].metrics
        print(HeldOutUsersExperiment.table(rows, split: split, configuration: configuration))
        XCTAssertGreaterThanOrEqual(neural.ndcgAt10, 2 * popularity.ndcgAt10, "neural \(neural), popularity \(popularity)")
        XCTAssertGreaterThanOrEqual(neural.ndcgAt100, 1.75 * popularity.ndcgAt100, "neural \(neural), popularity \(popularity)")
        XCTAssertGreaterThan(neural.recallAt20, popularity.recallAt20)
        for row in rows {
            for value in [row.metrics.ndcgAt10, row.metrics.recallAt20, row.metrics.recallAt50, row.metrics.ndcgAt100] {
                XCTAssertTrue(value > 0 && value <= 1, "\(row.model): \(row.metrics)")
            }
            XCTAssertEqual(row.users, split.users.count)
        }
    }
}
