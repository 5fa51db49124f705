/// One training run of a ``NeuralNetwork`` on fixed bags: the user order, the dropout masks
/// and the optimiser state, advanced one epoch at a time.
struct NeuralTraining {
    let network: NeuralNetwork
    let bags: LikedMovies
    private let configuration: NeuralEmbedder.Configuration
    private var optimizer: AdamOptimizer
    private var batch: NeuralBatch
    /// Users with a non-empty bag, reshuffled every epoch.
    private var order: [Int32]
    private var random: SeededRandom
    private(set) var epochs = 0

    init(bags: LikedMovies, movieCount: Int, configuration: NeuralEmbedder.Configuration) {
        self.bags = bags
        self.configuration = configuration
        order = bags.usersWithBags
        let capacity = max(1, min(configuration.batchSize, order.count))
        var sampler: SampledSoftmax?
        if case .sampled(let draws) = configuration.softmax.resolved(movieCount: movieCount).softmax {
            sampler = SampledSoftmax(
                bags: bags, movieCount: movieCount, dimension: configuration.dimension, draws: draws, batchCapacity: capacity,
                threads: configuration.threads, seed: configuration.seed ^ 0x5A3D_1ED5)
        }
        network = NeuralNetwork(
            movieCount: movieCount, widths: configuration.widths, batchCapacity: capacity,
            threads: configuration.threads, seed: configuration.seed, sampler: sampler)
        optimizer = AdamOptimizer(
            learningRate: configuration.learningRate, weightDecay: configuration.weightDecay, threads: configuration.threads)
        batch = NeuralBatch(capacity: capacity)
        random = SeededRandom(seed: configuration.seed ^ 0x00D2_0905)
    }

    /// Optimiser steps in one epoch.
    var batchesPerEpoch: Int { (order.count + network.batchCapacity - 1) / network.batchCapacity }

    /// One pass over the users in a fresh random order; returns the mean training loss per user.
    mutating func runEpoch() -> Double {
        random.shuffle(&order)
        var total = 0.0
        for start in stride(from: 0, to: order.count, by: network.batchCapacity) {
            let users = order[start ..< min(start + network.batchCapacity, order.count)]
            batch.fill(users: users, bags: bags, dropout: configuration.dropout, random: &random)
            network.encode(batch)
            total += network.lossAndGradients(batch, targets: bags) * Double(users.count)
            optimizer.step(network.tensors)
        }
        epochs += 1
        return total / Double(max(order.count, 1))
    }
}
