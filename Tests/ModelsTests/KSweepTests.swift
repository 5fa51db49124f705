import XCTest
import Models

final class KSweepTests: XCTestCase {
    func testSweepOnLowRankDataFindsTheRank() throws {
        let data = SGDTests.exactLowRank(users: 200, movies: 150, density: 0.4)
        let split = try Splits.randomHoldout(data.ratings, testFraction: 0.1, seed: 2)
        let rows = try KSweep.run(
            dataset: data, split: split, ks: [0, 1, 3],
            configuration: .init(epochs: 100, regularisation: 0.005, biasRegularisation: 0, warmupEpochs: 10))
        XCTAssertEqual(rows.map(\.k), [0, 1, 3])
        XCTAssertGreaterThan(rows[0].rmse, rows[1].rmse)
        XCTAssertGreaterThan(rows[1].rmse, rows[2].rmse)
        XCTAssertEqual(rows[2].mse, rows[2].rmse * rows[2].rmse, accuracy: 1e-9)
        let table = KSweep.table(rows)
        XCTAssertEqual(table.split(separator: "\n").count, 4)
        let svg = KSweep.plot(rows)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("<polyline"))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        XCTAssertThrowsError(try KSweep.run(dataset: data, split: split, ks: [-1]))
    }

    func testLineChartEscapesAndHandlesDegenerateInput() {
        let svg = SVGPlot.lineChart(
            title: "a < b & c", xLabel: "x", yLabel: "y",
            series: [.init(name: "flat", points: [(1, 2), (2, 2)]), .init(name: "empty", points: [])])
        XCTAssertTrue(svg.contains("a &lt; b &amp; c"))
        XCTAssertFalse(svg.contains("nan"))
    }
}
