import Foundation
import Logging

/// The fold-in experiment of seed 000 (§3.8, §4.6, Table 2 / Fig. 7): how well a user unseen
/// in training is predicted after folding in only their first n ratings, for several k.
///
/// A random fraction of the users (those with enough ratings) is held out of training. For
/// each held-out user, their ratings are shuffled with the seed; the first
/// `max(ratingCounts)` are the fold-in pool and the rest are that user's test ratings, the
/// same test ratings for every n, so the rows of one k are comparable. For each k a model is
/// trained on the remaining users, each held-out user is folded in from the first n pool
/// ratings (``FactorModel/foldIn(movieIndices:ratings:regularization:)``, regularised least
/// squares, unlike the seed's unregularised pseudo-inverse, which is why there is no error
/// peak at n = k), and the test ratings are predicted. A reference row per n predicts each
/// movie's training mean, as the seed compares against.
package enum FoldInCurve {
    package struct Configuration: Sendable {
        package var ks: [Int]
        package var ratingCounts: [Int]
        package var heldOutUserFraction: Double
        /// Held-out users need `max(ratingCounts) + minimumTestRatings` ratings.
        package var minimumTestRatings: Int
        package var seed: UInt64
        /// Training settings; `k` is replaced by each entry of `ks`. The default turns the
        /// missing-data term off: this experiment measures rating-prediction error, and that
        /// term (made for ranking) pulls a user known by a few ratings towards its imputed
        /// rating (n = 5 on ML-latest-small: RMSE 1.10 with it, 0.90 without).
        package var training: AlternatingLeastSquares.Configuration

        package init(
            ks: [Int] = [1, 2, 3, 5, 10, 20, 40], ratingCounts: [Int] = [1, 2, 3, 5, 10, 20],
            heldOutUserFraction: Double = 0.1, minimumTestRatings: Int = 5, seed: UInt64 = 42,
            training: AlternatingLeastSquares.Configuration = .init(missingWeight: 0)
        ) {
            self.ks = ks
            self.ratingCounts = ratingCounts
            self.heldOutUserFraction = heldOutUserFraction
            self.minimumTestRatings = minimumTestRatings
            self.seed = seed
            self.training = training
        }
    }

    /// One cell of the table.
    package struct Row: Sendable, Equatable {
        /// Latent dimensions; nil for the movie-mean reference.
        package var k: Int?
        /// Ratings folded in (n).
        package var ratingsUsed: Int
        package var mse: Double
        package var rmse: Double
        /// Held-out users evaluated.
        package var users: Int
        /// Test ratings predicted.
        package var predictions: Int
    }

    /// Runs the experiment with ALS for every k. `train` replaces the trainer (for example to
    /// run it with MF-SGD): it gets k and the training ratings (indexed like `dataset`).
    package static func run(
        _ dataset: Dataset, configuration: Configuration = .init(),
        train: ((_ k: Int, _ ratings: RatingTriples) throws -> FactorModel)? = nil
    ) throws -> [Row] {
        let logger = Logger(label: "latent.experiment.fold-in")
        try validate(configuration)
        let split = try HeldOutUsers(dataset, configuration: configuration)
        var rows = movieMeanRows(split, ratings: dataset.ratings, movieCount: dataset.movies.count)
        for k in configuration.ks {
            let model: FactorModel
            if let train {
                model = try train(k, split.trainRatings)
            } else {
                var training = configuration.training
                training.k = k
                model = try AlternatingLeastSquares(configuration: training).fit(
                    ratings: split.trainRatings, users: dataset.users, movies: dataset.movies, genres: dataset.genres)
            }
            let curve = try foldInRows(model, k: k, split, ratings: dataset.ratings)
            rows += curve
            logger.info("fold-in curve", metadata: [
                "k": "\(k)",
                "rmse_by_n": "\(curve.map { String(format: "%d:%.4f", $0.ratingsUsed, $0.rmse) }.joined(separator: " "))",
            ])
        }
        return rows
    }

    private static func validate(_ configuration: Configuration) throws {
        guard !configuration.ks.isEmpty, configuration.ks.allSatisfy({ $0 >= 0 }) else {
            throw ModelError.invalidParameter(name: "ks", value: "\(configuration.ks)", requirement: "a non-empty list of k >= 0")
        }
        guard !configuration.ratingCounts.isEmpty, configuration.ratingCounts.allSatisfy({ $0 >= 1 }) else {
            throw ModelError.invalidParameter(name: "ratingCounts", value: "\(configuration.ratingCounts)", requirement: "a non-empty list of counts >= 1")
        }
        guard configuration.heldOutUserFraction > 0, configuration.heldOutUserFraction < 1 else {
            throw ModelError.invalidParameter(name: "heldOutUserFraction", value: "\(configuration.heldOutUserFraction)", requirement: "in (0, 1)")
        }
    }

    /// The experiment's split: a seeded share of the users with enough ratings is held out of
    /// training; each held-out user's ratings in a seeded random order, whose first `n` are
    /// folded in and whose ratings from position `pool` on are predicted.
    struct HeldOutUsers {
        /// The numbers of ratings folded in, ascending.
        let counts: [Int]
        /// The largest count: ratings from this position on are the test ratings.
        let pool: Int
        let heldCount: Int
        let trainRatings: RatingTriples
        /// Positions in the dataset's ratings of each held-out user's ratings, shuffled.
        let orders: [[Int]]

        init(_ dataset: Dataset, configuration: Configuration) throws {
            counts = configuration.ratingCounts.sorted()
            pool = counts[counts.count - 1]
            let needed = pool + max(1, configuration.minimumTestRatings)
            let ratings = dataset.ratings
            var byUser = [[Int]](repeating: [], count: dataset.users.count)
            for p in 0..<ratings.count { byUser[Int(ratings.users[p])].append(p) }
            var rng = SplitMix64(seed: configuration.seed)
            var eligible = byUser.indices.filter { byUser[$0].count >= needed }
            FoldInCurve.shuffle(&eligible, &rng)
            let usersWithRatings = byUser.filter { !$0.isEmpty }.count
            heldCount = min(eligible.count, Int((Double(usersWithRatings) * configuration.heldOutUserFraction).rounded()))
            guard heldCount > 0 else {
                throw ModelError.emptyData("no user has the \(needed) ratings the fold-in experiment needs (\(pool) to fold in + \(configuration.minimumTestRatings) to test)")
            }
            let heldUsers = eligible[0..<heldCount].sorted()
            var isHeld = [Bool](repeating: false, count: dataset.users.count)
            for u in heldUsers { isHeld[u] = true }
            var trainPositions: [Int] = []
            trainPositions.reserveCapacity(ratings.count)
            for p in 0..<ratings.count where !isHeld[Int(ratings.users[p])] { trainPositions.append(p) }
            trainRatings = ratings.subset(trainPositions)
            orders = heldUsers.map { u in
                var positions = byUser[u]
                FoldInCurve.shuffle(&positions, &rng)
                return positions
            }
        }
    }

    /// The reference rows (`k` nil): each test rating predicted by its movie's training mean
    /// (the global mean for a movie without training ratings), the same for every count.
    private static func movieMeanRows(_ split: HeldOutUsers, ratings: RatingTriples, movieCount: Int) -> [Row] {
        var sums = [Double](repeating: 0, count: movieCount)
        var seen = [Int](repeating: 0, count: movieCount)
        for p in 0..<split.trainRatings.count {
            sums[Int(split.trainRatings.movies[p])] += Double(split.trainRatings.ratings[p])
            seen[Int(split.trainRatings.movies[p])] += 1
        }
        let globalMean = Double(split.trainRatings.mean ?? 0)
        var referenceError = 0.0, predictions = 0
        for order in split.orders {
            for p in order[split.pool...] {
                let m = Int(ratings.movies[p])
                let prediction = seen[m] > 0 ? sums[m] / Double(seen[m]) : globalMean
                let e = Double(ratings.ratings[p]) - prediction
                referenceError += e * e
                predictions += 1
            }
        }
        let mse = referenceError / Double(predictions)
        return split.counts.map { n in
            Row(k: nil, ratingsUsed: n, mse: mse, rmse: mse.squareRoot(), users: split.heldCount, predictions: predictions)
        }
    }

    /// One row per count: each held-out user folded into `model` from their first `n` ratings,
    /// then their test ratings predicted (clipped to the rating scale).
    private static func foldInRows(_ model: FactorModel, k: Int, _ split: HeldOutUsers, ratings: RatingTriples) throws -> [Row] {
        let regularization = try FoldInRegularization(model: model)
        let context = regularization.context(for: model)
        return try split.counts.map { n in
            var squared = 0.0, count = 0
            for order in split.orders {
                let used = order[0..<n]
                let folded = try model.foldIn(
                    movieIndices: used.map { ratings.movies[$0] }, ratings: used.map { ratings.ratings[$0] },
                    regularization: regularization, context: context)
                for p in order[split.pool...] {
                    let m = Int(ratings.movies[p])
                    var prediction = model.globalMean + folded.bias + model.movieBias[m]
                    for d in 0..<model.k { prediction += folded.vector[d] * model.movieFactors[m * model.k + d] }
                    prediction = min(max(prediction, model.ratingScale.lowerBound), model.ratingScale.upperBound)
                    let e = Double(ratings.ratings[p] - prediction)
                    squared += e * e
                    count += 1
                }
            }
            let mse = squared / Double(max(count, 1))
            return Row(k: k, ratingsUsed: n, mse: mse, rmse: mse.squareRoot(), users: split.heldCount, predictions: count)
        }
    }

    private static func shuffle(_ a: inout [Int], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
    }
}
