import XCTest
import Models

final class SplitsTests: XCTestCase {
    private func ratings(users: Int = 50, perUser: Int = 20) -> RatingTriples {
        var t = RatingTriples()
        for u in 0..<users {
            for j in 0..<perUser {
                t.append(user: Int32(u), movie: Int32((u + j * 7) % 100), rating: Float(1 + (u + j) % 5), timestamp: Int64(u * 1000 + j))
            }
        }
        return t
    }

    private func key(_ t: RatingTriples, _ i: Int) -> Int64 { Int64(t.users[i]) << 32 | Int64(t.movies[i]) }

    private func assertPartition(_ s: RatingSplit, of all: RatingTriples, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(s.train.count + s.test.count, all.count, file: file, line: line)
        let train = Set((0..<s.train.count).map { key(s.train, $0) })
        let test = Set((0..<s.test.count).map { key(s.test, $0) })
        XCTAssertTrue(train.isDisjoint(with: test), file: file, line: line)
    }

    func testRandomHoldoutIsDeterministicAndSized() throws {
        let all = ratings()
        let a = try Splits.randomHoldout(all, testFraction: 0.1, seed: 1)
        let b = try Splits.randomHoldout(all, testFraction: 0.1, seed: 1)
        let c = try Splits.randomHoldout(all, testFraction: 0.1, seed: 2)
        XCTAssertEqual(a.test, b.test)
        XCTAssertNotEqual(a.test, c.test)
        XCTAssertEqual(a.test.count, 100)
        assertPartition(a, of: all)
        XCTAssertThrowsError(try Splits.randomHoldout(all, testFraction: 1.5, seed: 1))
    }

    func testKFoldTestSidesPartitionTheRatings() throws {
        let all = ratings()
        let folds = try Splits.kFold(all, folds: 5, seed: 3)
        XCTAssertEqual(folds.count, 5)
        var seen = Set<Int64>()
        for f in folds {
            assertPartition(f, of: all)
            for i in 0..<f.test.count { XCTAssertTrue(seen.insert(key(f.test, i)).inserted) }
        }
        XCTAssertEqual(seen.count, all.count)
        XCTAssertThrowsError(try Splits.kFold(all, folds: 1, seed: 3))
    }

    func testPerUserHoldoutTakesKFromEachUser() throws {
        let all = ratings(users: 10, perUser: 6)
        var extra = all
        extra.append(user: 10, movie: 1, rating: 3, timestamp: 0)  // a one-rating user stays in training
        let s = try Splits.perUserHoldout(extra, perUser: 2, seed: 4)
        assertPartition(s, of: extra)
        var perUser = [Int](repeating: 0, count: 11)
        for u in s.test.users { perUser[Int(u)] += 1 }
        XCTAssertEqual(perUser, Array(repeating: 2, count: 10) + [0])
    }

    func testTemporalPutsTheLatestRatingsInTest() throws {
        let all = ratings()
        let s = try Splits.temporal(all, testFraction: 0.2)
        assertPartition(s, of: all)
        XCTAssertEqual(s.test.count, 200)
        XCTAssertLessThanOrEqual(s.train.timestamps.max() ?? 0, s.test.timestamps.min() ?? 0)
    }

    func testHeldOutUsersAreAbsentFromTraining() throws {
        let all = ratings()
        let s = try Splits.heldOutUsers(all, userFraction: 0.2, seed: 5)
        assertPartition(s, of: all)
        XCTAssertEqual(Set(s.test.users).count, 10)
        XCTAssertTrue(Set(s.test.users).isDisjoint(with: Set(s.train.users)))
    }

    func testValidationCarveOut() throws {
        let train = try Splits.randomHoldout(ratings(), testFraction: 0.1, seed: 1).train
        let v = try Splits.validation(from: train, fraction: 0.1, seed: 1)
        assertPartition(v, of: train)
    }

    func testSeededRandomIsStable() {
        var rng = SeededRandom(seed: 42)
        let first = (0..<3).map { _ in rng.next() }
        var again = SeededRandom(seed: 42)
        XCTAssertEqual(first, (0..<3).map { _ in again.next() })
        XCTAssertTrue((0..<1000).allSatisfy { _ in let x = rng.nextDouble(); return x >= 0 && x < 1 })
    }
}
