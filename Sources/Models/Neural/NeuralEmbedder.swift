import Foundation

/// A multinomial softmax recommender (Liang, Krishnan, Hoffman and Jebara 2018, "Variational
/// Autoencoders for Collaborative Filtering", the Mult-DAE model; also the softmax model of
/// Google's recommendation systems course): a user is the bag of movies they liked, a small
/// network maps the bag to an embedding `e`, and the scores `e V^T + b` over the whole catalogue
/// go through a softmax trained by cross-entropy against the bag.
///
/// Because the last layer is linear, the result is a ``FactorModel`` of kind "neural": the user
/// factors are the users' embeddings (one forward pass over their whole training bag), the
/// movie factors are `V` and the movie biases `b`; user biases and the global mean are 0. Top-N,
/// similar movies, ranking evaluation and publishing work on it unchanged. Its scores rank
/// movies; they are not ratings, so RMSE means nothing for it. ``FactorModel/encoder`` holds
/// the input layers, so a new user is embedded from their first ratings without retraining.
/// Given the movies' genres, each genre's vector is the mean of its movies' vectors (for
/// publishing; training does not use genres).
package struct NeuralEmbedder: Sendable {
    package var configuration: Configuration

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Trains on all ratings of `dataset`.
    package func fit(_ dataset: Dataset, progress: ProgressReporter = .silent) throws -> FactorModel {
        try fit(ratings: dataset.ratings, users: dataset.users, movies: dataset.movies, genres: dataset.genres, progress: progress)
    }

    /// Trains on `ratings`, whose indices refer to `users` and `movies`; every movie of
    /// `movies` gets a vector and a bias (a movie nobody liked is pushed down by the softmax).
    /// `genres`, when given, must be indexed like `movies`.
    package func fit(
        ratings: RatingTriples, users: IDIndex, movies: IDIndex, genres: GenreIncidence? = nil,
        progress: ProgressReporter = .silent
    ) throws -> FactorModel {
        try configuration.validate()
        let configuration = self.configuration
        return try NetworkFit.run(
            ratings: ratings, users: users, movies: movies, genres: genres, threads: configuration.threads,
            parameters: configuration.parameters
        ) {
            try train(ratings, users: users, movies: movies, progress: progress)
        } makeModel: { network, parameters in
            let bags = LikedMovies(ratings, userCount: users.count, movieCount: movies.count, threshold: configuration.likedThreshold)
            return Self.model(
                network, bags: bags, users: users, movies: movies, configuration: configuration,
                encoder: try network.encoder(likedThreshold: configuration.likedThreshold), parameters: parameters)
        }
    }

    /// The trained network and what to record about the run (softmax, epochs, validation NDCG).
    private func train(
        _ ratings: RatingTriples, users: IDIndex, movies: IDIndex, progress: ProgressReporter
    ) throws -> (NeuralNetwork, report: [String: String]) {
        let c = configuration
        guard ratings.ratings.contains(where: { $0 >= c.likedThreshold }) else {
            throw ModelError.emptyData("no rating reaches the liked threshold \(c.likedThreshold): every user's bag is empty")
        }
        let (softmax, reason) = c.softmax.resolved(movieCount: movies.count)
        progress.finish("neural softmax", ["softmax": "\(softmax)", "reason": reason])
        let (network, report) = try trainNetwork(ratings, users: users, movies: movies, progress: progress)
        return (network, report.merging(["softmax": "\(softmax)"]) { _, new in new })
    }

    /// The network trained for a fixed number of epochs, or with early stopping and an optional refit.
    private func trainNetwork(
        _ ratings: RatingTriples, users: IDIndex, movies: IDIndex, progress: ProgressReporter
    ) throws -> (NeuralNetwork, [String: String]) {
        let c = configuration
        let userCount = users.count, movieCount = movies.count
        guard c.validationFraction > 0 else {
            let bags = LikedMovies(ratings, userCount: userCount, movieCount: movieCount, threshold: c.likedThreshold)
            let network = try trainFixed(bags: bags, movieCount: movieCount, epochs: c.epochs, progress: progress)
            return (network, ["epochsTrained": "\(c.epochs)"])
        }
        let split = try Splits.validation(from: ratings, fraction: c.validationFraction, seed: c.seed)
        let (network, best) = try trainWithEarlyStopping(split, users: users, movies: movies, progress: progress)
        var report = ["epochsTrained": "\(best.epoch)", "validationNDCG": String(format: "%.4f", best.ndcg)]
        guard c.refit else { return (network, report) }
        let bags = LikedMovies(ratings, userCount: userCount, movieCount: movieCount, threshold: c.likedThreshold)
        report["refit"] = "true"
        return (try trainFixed(bags: bags, movieCount: movieCount, epochs: best.epoch, progress: progress), report)
    }

    private func trainFixed(bags: LikedMovies, movieCount: Int, epochs: Int, progress: ProgressReporter) throws -> NeuralNetwork {
        var training = NeuralTraining(bags: bags, movieCount: movieCount, configuration: configuration)
        for epoch in 1...epochs {
            let loss = training.runEpoch()
            guard loss.isFinite else { throw ModelError.numerical("neural training diverged (loss is not finite) at epoch \(epoch)") }
            progress.step("training neural", ["epoch": "\(epoch)/\(epochs)", "loss": MetricText.fixed(loss)])
        }
        return training.network
    }

    /// Trains on `split.train`, measures NDCG on `split.test` every few epochs and returns the
    /// network restored to its best measurement.
    private func trainWithEarlyStopping(
        _ split: RatingSplit, users: IDIndex, movies: IDIndex, progress: ProgressReporter
    ) throws -> (NeuralNetwork, (epoch: Int, ndcg: Double)) {
        let c = configuration
        let bags = LikedMovies(split.train, userCount: users.count, movieCount: movies.count, threshold: c.likedThreshold)
        var training = NeuralTraining(bags: bags, movieCount: movies.count, configuration: c)
        var stopping = EarlyStopping(patience: c.measurementPatience(batchesPerEpoch: training.batchesPerEpoch), higherIsBetter: true)
        var saved = training.network.snapshot()
        let interval = c.measurementInterval(batchesPerEpoch: training.batchesPerEpoch)
        let sample = RankingSample(maxUsers: Configuration.validationUsers, seed: c.seed)
        while training.epochs < c.epochs, stopping.continues {
            var loss = 0.0
            for _ in 0..<min(interval, c.epochs - training.epochs) { loss = training.runEpoch() }
            guard loss.isFinite else { throw ModelError.numerical("neural training diverged (loss is not finite) at epoch \(training.epochs)") }
            let model = Self.model(
                training.network, bags: bags, users: users, movies: movies, configuration: c, encoder: nil, parameters: [:])
            let ndcg = try Evaluation.ranking(
                of: model, train: split.train, test: split.test, cutoffs: [c.validationCutoff], sample: sample, threads: c.threads)[0].ndcg
            if stopping.record(ndcg, epoch: training.epochs) { saved = training.network.snapshot() }
            progress.step("training neural", [
                "epoch": "\(training.epochs)/\(c.epochs)", "loss": MetricText.fixed(loss),
                "validation_ndcg": MetricText.fixed(ndcg), "best_epoch": "\(stopping.bestEpoch)",
            ])
        }
        training.network.restore(saved)
        return (training.network, (stopping.bestEpoch, max(stopping.bestScore, -1)))
    }

    /// `model` with every user of `users` embedded again by its encoder from their bag in
    /// `ratings` (the network and the movie side unchanged).
    static func reembeddingUsers(of model: FactorModel, ratings: RatingTriples, users: IDIndex) throws -> FactorModel {
        guard let encoder = model.encoder else {
            throw ModelError.invalidParameter(name: "model", value: model.kind.rawValue, requirement: "a neural model with its encoder")
        }
        let bags = LikedMovies(ratings, userCount: users.count, movieCount: model.movies.count, threshold: encoder.likedThreshold)
        var factors = [Float](repeating: 0, count: users.count * model.k)
        for u in 0..<users.count {
            let embedding = encoder.embed(movies: Array(bags.movies[bags.range(u)]))
            factors.replaceSubrange((u * model.k) ..< ((u + 1) * model.k), with: embedding)
        }
        var reembedded = model
        reembedded.users = users
        reembedded.userFactors = factors
        reembedded.userBias = [Float](repeating: 0, count: users.count)
        return reembedded
    }

    /// The network as a ``FactorModel``: users' embeddings from `bags`, `V`, `b`.
    static func model(
        _ network: NeuralNetwork, bags: LikedMovies, users: IDIndex, movies: IDIndex, configuration: Configuration,
        encoder: NeuralEncoder?, parameters: [String: String]
    ) -> FactorModel {
        FactorModel(
            kind: .neural, k: network.dimension, globalMean: 0,
            userBias: [Float](repeating: 0, count: bags.userCount), movieBias: network.movieBias.values,
            userFactors: network.embedAll(bags), movieFactors: network.movieFactors.values,
            users: users, movies: movies, ratingScale: configuration.ratingScale, parameters: parameters, encoder: encoder)
    }
}
