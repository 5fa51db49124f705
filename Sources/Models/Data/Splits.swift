#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A deterministic pseudo-random generator (xoshiro256**, seeded through SplitMix64): the same
/// seed gives the same sequence on every platform and Swift version, unlike the system RNG.
package struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    package init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    @inline(__always)
    package mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    package mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in `0..<bound` (bound > 0), by multiply-shift (tiny bias is irrelevant here).
    @inline(__always)
    package mutating func nextInt(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Standard normal by Box-Muller.
    package mutating func nextGaussian() -> Double {
        let u1 = max(nextDouble(), 1e-300), u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Fills `count` values with independent normal draws times `scale`: Marsaglia's polar
    /// method in Float, both uniforms of a pair from one generator step (24 bits each).
    package mutating func fillGaussian(_ buffer: UnsafeMutablePointer<Float>, count: Int, scale: Float) {
        var i = 0
        while i < count {
            let bits = next()
            let u = Float(bits >> 40) * 0x1.0p-23 - 1, v = Float(bits >> 16 & 0xFF_FFFF) * 0x1.0p-23 - 1
            let s = u * u + v * v
            guard s > 0, s < 1 else { continue }
            let factor = (-2 * log(s) / s).squareRoot() * scale
            buffer[i] = u * factor
            if i + 1 < count { buffer[i + 1] = v * factor }
            i += 2
        }
    }

    /// Fisher-Yates shuffle with this generator (stable across platforms).
    package mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, nextInt(below: i + 1))
        }
    }
}

/// Training and test ratings over the same ``Dataset`` indices.
package struct RatingSplit: Sendable {
    package var train: RatingTriples
    package var test: RatingTriples

    package init(train: RatingTriples, test: RatingTriples) {
        self.train = train
        self.test = test
    }
}

/// A split that cannot be made from the given ratings or parameters.
package enum SplitError: Error, Equatable, CustomStringConvertible {
    case invalidParameter(String)
    case empty(String)

    package var description: String {
        switch self {
        case .invalidParameter(let m): return "invalid split: \(m)"
        case .empty(let m): return "empty split: \(m)"
        }
    }
}

/// Deterministic ways to hold out ratings. Every split is a pure function of the ratings and the
/// seed; test ratings keep the dataset's dense indices.
package enum Splits {
    /// Each rating goes to the test side with probability close to `testFraction` (exactly
    /// `round(n * testFraction)` ratings, chosen by a seeded shuffle).
    package static func randomHoldout(_ ratings: RatingTriples, testFraction: Double, seed: UInt64) throws -> RatingSplit {
        guard testFraction > 0, testFraction < 1 else {
            throw SplitError.invalidParameter("test fraction must be in (0, 1), got \(testFraction)")
        }
        guard ratings.count >= 2 else { throw SplitError.empty("need at least 2 ratings, got \(ratings.count)") }
        var order = Array(0..<ratings.count)
        var rng = SeededRandom(seed: seed)
        rng.shuffle(&order)
        let testCount = min(max(1, Int((Double(ratings.count) * testFraction).rounded())), ratings.count - 1)
        return split(ratings, testPositions: order[0..<testCount])
    }

    /// `folds` splits whose test sides partition the ratings (k-fold cross-validation).
    package static func kFold(_ ratings: RatingTriples, folds: Int, seed: UInt64) throws -> [RatingSplit] {
        guard folds >= 2 else { throw SplitError.invalidParameter("k-fold needs at least 2 folds, got \(folds)") }
        guard ratings.count >= folds else {
            throw SplitError.empty("\(folds) folds need at least \(folds) ratings, got \(ratings.count)")
        }
        var order = Array(0..<ratings.count)
        var rng = SeededRandom(seed: seed)
        rng.shuffle(&order)
        return (0..<folds).map { f in
            let lo = ratings.count * f / folds, hi = ratings.count * (f + 1) / folds
            return split(ratings, testPositions: order[lo..<hi])
        }
    }

    /// Holds out `perUser` random ratings of every user who keeps at least `minimumTrain`
    /// ratings in training; users with fewer ratings stay entirely in training.
    package static func perUserHoldout(
        _ ratings: RatingTriples, perUser: Int, minimumTrain: Int = 1, seed: UInt64
    ) throws -> RatingSplit {
        guard perUser >= 1 else { throw SplitError.invalidParameter("per-user holdout needs perUser >= 1, got \(perUser)") }
        let byUser = positionsByUser(ratings)
        var rng = SeededRandom(seed: seed)
        var test: [Int] = []
        for var positions in byUser where positions.count >= perUser + minimumTrain {
            // Partial Fisher-Yates: the first `perUser` positions become a random sample.
            for i in 0..<perUser {
                positions.swapAt(i, i + rng.nextInt(below: positions.count - i))
            }
            test.append(contentsOf: positions[0..<perUser])
        }
        guard !test.isEmpty else {
            throw SplitError.empty("no user has more than \(perUser + minimumTrain - 1) ratings")
        }
        test.sort()
        return split(ratings, testPositions: test)
    }

    /// The latest `testFraction` of ratings by timestamp form the test side (one global cutoff;
    /// ties at the cutoff are broken by position, so the sizes are exact).
    package static func temporal(_ ratings: RatingTriples, testFraction: Double) throws -> RatingSplit {
        guard testFraction > 0, testFraction < 1 else {
            throw SplitError.invalidParameter("test fraction must be in (0, 1), got \(testFraction)")
        }
        guard ratings.count >= 2 else { throw SplitError.empty("need at least 2 ratings, got \(ratings.count)") }
        let ts = ratings.timestamps
        let order = Array(0..<ratings.count).sorted { ts[$0] != ts[$1] ? ts[$0] < ts[$1] : $0 < $1 }
        let testCount = min(max(1, Int((Double(ratings.count) * testFraction).rounded())), ratings.count - 1)
        return split(ratings, testPositions: order[(ratings.count - testCount)...])
    }

    /// All ratings of a random `userFraction` of the users form the test side (for fold-in
    /// experiments: those users are unknown to the trained model).
    package static func heldOutUsers(_ ratings: RatingTriples, userFraction: Double, seed: UInt64) throws -> RatingSplit {
        guard userFraction > 0, userFraction < 1 else {
            throw SplitError.invalidParameter("user fraction must be in (0, 1), got \(userFraction)")
        }
        let byUser = positionsByUser(ratings)
        var rated = byUser.indices.filter { !byUser[$0].isEmpty }
        guard rated.count >= 2 else { throw SplitError.empty("need at least 2 users with ratings") }
        var rng = SeededRandom(seed: seed)
        rng.shuffle(&rated)
        let held = min(max(1, Int((Double(rated.count) * userFraction).rounded())), rated.count - 1)
        var test: [Int] = []
        for u in rated[0..<held] { test.append(contentsOf: byUser[u]) }
        test.sort()
        return split(ratings, testPositions: test)
    }

    /// Carves a validation split (for early stopping or tuning) out of training ratings.
    package static func validation(from train: RatingTriples, fraction: Double, seed: UInt64) throws -> RatingSplit {
        try randomHoldout(train, testFraction: fraction, seed: seed ^ 0x5EED_0F_0A11)
    }

    /// Positions of each user's ratings, in file order, indexed by dense user index.
    static func positionsByUser(_ ratings: RatingTriples) -> [[Int]] {
        let userCount = Int(ratings.users.max() ?? -1) + 1
        var byUser = [[Int]](repeating: [], count: userCount)
        for (p, u) in ratings.users.enumerated() { byUser[Int(u)].append(p) }
        return byUser
    }

    /// Splits by a set of test positions; both sides keep the original relative order.
    static func split<C: Collection>(_ ratings: RatingTriples, testPositions: C) -> RatingSplit where C.Element == Int {
        var isTest = [Bool](repeating: false, count: ratings.count)
        for p in testPositions { isTest[p] = true }
        var train = RatingTriples(), test = RatingTriples()
        train.reserveCapacity(ratings.count - testPositions.count)
        test.reserveCapacity(testPositions.count)
        for i in 0..<ratings.count {
            if isTest[i] {
                test.append(user: ratings.users[i], movie: ratings.movies[i], rating: ratings.ratings[i], timestamp: ratings.timestamps[i])
            } else {
                train.append(user: ratings.users[i], movie: ratings.movies[i], rating: ratings.ratings[i], timestamp: ratings.timestamps[i])
            }
        }
        return RatingSplit(train: train, test: test)
    }
}
