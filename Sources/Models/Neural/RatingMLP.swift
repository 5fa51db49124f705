import Foundation

/// The rating MLP of the study of latent spaces for user preferences (Brazilian Journal of
/// Technology, 2021, §3.5 and §4.9): user and movie embeddings, concatenated, through three
/// ReLU hidden layers to one output clipped to the rating scale, with a Gaussian noise layer
/// on the embeddings instead of weight decay. Trained by Adam on mini-batches of ratings
/// (squared error), with early stopping on a validation RMSE.
///
/// The result is a ``FactorModel`` of kind "mlp" whose user and movie factors are the
/// embeddings (so similar movies by cosine, published vectors and genre centroids work as for
/// the other models) and whose ``FactorModel/ratingHead`` holds the layers that prediction,
/// recommend and top-N score through. The global mean is the training mean (what users or
/// movies the model never saw are predicted); the biases are zero.
package struct RatingMLP: Sendable {
    package var configuration: Configuration

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Trains on `ratings`, whose indices refer to `users` and `movies`; every one of them gets
    /// an embedding. `genres`, when given, must be indexed like `movies` (genre vectors are the
    /// means of their movies' embeddings, for publishing).
    package func fit(
        ratings: RatingTriples, users: IDIndex, movies: IDIndex, genres: GenreIncidence? = nil,
        progress: ProgressReporter = .silent
    ) throws -> FactorModel {
        try configuration.validate()
        let c = configuration
        return try NetworkFit.run(
            ratings: ratings, users: users, movies: movies, genres: genres, threads: c.threads, parameters: c.parameters
        ) {
            try train(ratings, userCount: users.count, movieCount: movies.count, progress: progress)
        } makeModel: { network, parameters in
            FactorModel(
                kind: .mlp, k: c.dimension, globalMean: Self.mean(ratings.ratings),
                userBias: [Float](repeating: 0, count: users.count), movieBias: [Float](repeating: 0, count: movies.count),
                userFactors: network.userEmbedding.values, movieFactors: network.movieEmbedding.values,
                users: users, movies: movies, ratingScale: c.ratingScale, parameters: parameters, ratingHead: try network.head())
        }
    }

    private static func mean(_ values: [Float]) -> Float {
        Float(values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1)))
    }

    /// The trained network and what to record about the run (epochs, validation RMSE).
    private func train(
        _ ratings: RatingTriples, userCount: Int, movieCount: Int, progress: ProgressReporter
    ) throws -> (RatingNetwork, report: [String: String]) {
        let c = configuration
        guard c.validationFraction > 0 else {
            var run = RatingTraining(ratings, userCount: userCount, movieCount: movieCount, configuration: c)
            for epoch in 1...c.epochs {
                let loss = run.runEpoch()
                guard loss.isFinite else { throw ModelError.numerical("mlp training diverged (loss is not finite) at epoch \(epoch)") }
                progress.step("training mlp", ["epoch": "\(epoch)/\(c.epochs)", "train_rmse": MetricText.fixed(loss.squareRoot())])
            }
            return (run.network, ["epochsTrained": "\(c.epochs)"])
        }
        let split = try Splits.validation(from: ratings, fraction: c.validationFraction, seed: c.seed)
        var run = RatingTraining(split.train, userCount: userCount, movieCount: movieCount, configuration: c)
        var stopping = EarlyStopping(patience: c.patience, higherIsBetter: false)
        var saved = run.network.snapshot()
        while run.epochs < c.epochs, stopping.continues {
            let loss = run.runEpoch()
            guard loss.isFinite else { throw ModelError.numerical("mlp training diverged (loss is not finite) at epoch \(run.epochs)") }
            let rmse = run.rmse(on: split.test)
            if stopping.record(rmse, epoch: run.epochs) { saved = run.network.snapshot() }
            progress.step("training mlp", [
                "epoch": "\(run.epochs)/\(c.epochs)", "train_rmse": MetricText.fixed(loss.squareRoot()),
                "validation_rmse": MetricText.fixed(rmse), "best_epoch": "\(stopping.bestEpoch)",
            ])
        }
        run.network.restore(saved)
        let best = stopping.bestEpoch
        return (run.network, ["epochsTrained": "\(best)", "bestEpoch": "\(best)", "validationRMSE": String(format: "%.4f", stopping.bestScore)])
    }
}

/// One training run of a ``RatingNetwork``: the rating order, the noise and the optimiser
/// state, advanced one epoch at a time.
struct RatingTraining {
    let network: RatingNetwork
    private let ratings: RatingTriples
    private let noise: Float
    private var optimizer: AdamOptimizer
    private var order: [Int32]
    private var random: SeededRandom
    /// The current batch, reused.
    private var users: [Int32], movies: [Int32], targets: [Float]
    private(set) var epochs = 0

    init(_ ratings: RatingTriples, userCount: Int, movieCount: Int, configuration c: RatingMLP.Configuration) {
        self.ratings = ratings
        noise = c.noise
        let capacity = max(1, min(c.batchSize, ratings.count))
        let mean = Float(ratings.ratings.reduce(0.0) { $0 + Double($1) } / Double(max(ratings.count, 1)))
        network = RatingNetwork(
            userCount: userCount, movieCount: movieCount, dimension: c.dimension, hidden: c.hidden, batchCapacity: capacity,
            ratingScale: c.ratingScale, initialScale: c.initialScale, mean: mean, seed: c.seed)
        optimizer = AdamOptimizer(learningRate: c.learningRate, weightDecay: 0, threads: c.threads)
        order = (0..<Int32(ratings.count)).map { $0 }
        random = SeededRandom(seed: c.seed ^ 0x0A1B_2C3D)
        users = [Int32](repeating: 0, count: capacity)
        movies = [Int32](repeating: 0, count: capacity)
        targets = [Float](repeating: 0, count: capacity)
    }

    /// One pass over the ratings in a fresh random order; returns the mean training loss (MSE).
    mutating func runEpoch() -> Double {
        random.shuffle(&order)
        let capacity = network.batchCapacity
        var total = 0.0
        for start in stride(from: 0, to: order.count, by: capacity) {
            let rows = min(capacity, order.count - start)
            for r in 0..<rows {
                let i = Int(order[start + r])
                users[r] = ratings.users[i]
                movies[r] = ratings.movies[i]
                targets[r] = ratings.ratings[i]
            }
            total += step(rows: rows) * Double(rows)
        }
        epochs += 1
        return total / Double(max(order.count, 1))
    }

    private mutating func step(rows: Int) -> Double {
        let network = self.network, noise = self.noise
        var random = self.random
        defer { self.random = random }
        let loss = users.withUnsafeBufferPointer { u in
            movies.withUnsafeBufferPointer { m in
                targets.withUnsafeBufferPointer { t in
                    guard let ub = u.baseAddress, let mb = m.baseAddress, let tb = t.baseAddress else { return 0.0 }
                    network.forward(users: ub, movies: mb, rows: rows, noise: noise, random: &random)
                    return network.lossAndGradients(users: ub, movies: mb, ratings: tb, rows: rows)
                }
            }
        }
        optimizer.step(network.tensors)
        return loss
    }

    /// RMSE of the clipped predictions (no noise) on `test`.
    func rmse(on test: RatingTriples) -> Double {
        let capacity = network.batchCapacity
        var unused = SeededRandom(seed: 0)
        var sum = 0.0
        test.users.withUnsafeBufferPointer { u in
            test.movies.withUnsafeBufferPointer { m in
                guard let ub = u.baseAddress, let mb = m.baseAddress else { return }
                for start in stride(from: 0, to: test.count, by: capacity) {
                    let rows = min(capacity, test.count - start)
                    network.forward(users: ub + start, movies: mb + start, rows: rows, noise: 0, random: &unused)
                    for r in 0..<rows {
                        let e = Double(network.prediction(row: r) - test.ratings[start + r])
                        sum += e * e
                    }
                }
            }
        }
        return (sum / Double(max(test.count, 1))).squareRoot()
    }
}
