import XCTest
@testable import Models

final class TopNSelectorTests: XCTestCase {
    /// Against a full sort by (score descending, index ascending), over rows with many ties,
    /// excluded entries, and capacities below, at and above the row length.
    func testKeepsExactlyTheBestWithTiesToTheLowerIndex() {
        var rng = SplitMix64(seed: 3)
        for trial in 0..<200 {
            let n = Int(rng.next() % 700) + 1
            let capacity = [1, 7, 100, 250, 1_000][trial % 5]
            // Few distinct values force ties; some rows are monotone (a quickselect's worst case).
            let scores: [Float] = (0..<n).map { i in
                switch trial % 4 {
                case 0: return Float(rng.next() % 5)
                case 1: return Float(i)
                case 2: return -Float(i)
                default: return rng.next() % 10 == 0 ? -.infinity : Float(rng.nextNormal())
                }
            }
            var top = TopNSelector(capacity: capacity)
            for (i, s) in scores.enumerated() { top.offer(index: Int32(i), score: s) }
            let expected = scores.enumerated().filter { $0.element > -.infinity }
                .sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                .prefix(capacity)
            let got = top.sorted()
            XCTAssertEqual(got.map(\.index), expected.map { Int32($0.offset) }, "trial \(trial), n \(n), capacity \(capacity)")
            XCTAssertEqual(got.map(\.score), expected.map(\.element), "trial \(trial)")
        }
    }

    func testResetStartsAnEmptySelection() {
        var top = TopNSelector(capacity: 2)
        for i in 0..<500 { top.offer(index: Int32(i), score: Float(i)) }
        XCTAssertGreaterThan(top.threshold, 0)
        top.reset()
        top.offer(index: 0, score: -5)
        XCTAssertEqual(top.sorted().map(\.index), [0])
        XCTAssertEqual(top.sorted().map(\.score), [-5])
    }
}
