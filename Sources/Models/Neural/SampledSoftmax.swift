import Foundation

/// The sampled softmax of the neural embedder's output layer (``NeuralSoftmax/sampled(negatives:)``).
///
/// Per mini-batch, `draws` movies are drawn with replacement from a proposal `Q` proportional
/// to (bags holding the movie + 1)^0.75 (smoothed popularity, as word2vec's negative
/// sampling: every movie can be drawn, popular ones more often). The distinct draws are the
/// batch's negatives: their rows of `V` and their biases are gathered into a contiguous block
/// and one `sgemm` scores every row against them. Row `r`'s softmax runs over its own bag
/// (scored by dot products) and the negatives not in its bag. A negative's score is lowered
/// by `log π_j`, where `π_j = 1 - (1 - Q_j)^draws` is the probability that `j` is drawn (about
/// its expected count `draws Q_j`, Yi et al.'s correction, and exact when that count is not
/// small); the row's own movies are in its set with probability 1, so their correction is
/// `log 1 = 0`. `Σ exp(score) / π` over the set is then an unbiased estimate of the full
/// softmax's normaliser (Horvitz and Thompson), at the cost of draws + bag per row instead of
/// the catalogue.
///
/// Why not the union of the batch's bags as the shared candidate set (Jean et al.'s choice):
/// measured on the 4M-rating synthetic set, 500 users' bags cover 8,500 of 20,000 movies, so
/// the product would shrink by only 2.3x.
///
/// The gradients land in the full `V` and `b` gradients (zero outside the drawn and bag
/// rows) and the optimiser stays the dense Adam of the full softmax: every row's moments decay
/// and the weight decay applies every step, so both softmaxes optimise the same objective the
/// same way. Its cost per step is a pass over `V`, which the input layer's dense Adam pays
/// anyway.
///
/// Buffers are allocated once; a batch allocates nothing. Not `Sendable`: one training run owns it.
final class SampledSoftmax {
    /// The exponent of the smoothed popularity in the proposal.
    static let proposalExponent = 0.75

    /// Draws per mini-batch.
    let draws: Int
    let movieCount: Int
    let dimension: Int
    let batchCapacity: Int
    let threads: Int

    private let seed: UInt64
    private var random: SeededRandom
    private let aliasProbability: [Float]
    private let aliasIndex: [Int32]
    /// `log π_j` for every movie.
    private let logInclusion: UnsafeMutablePointer<Float>
    /// Each movie's position among the current negatives, -1 when not drawn.
    private let position: UnsafeMutablePointer<Int32>
    private let candidates: UnsafeMutablePointer<Int32>
    private var candidateCount = 0
    /// The negatives' rows of `V` (`draws x d`) and their biases minus `log π`.
    private let block: UnsafeMutablePointer<Float>
    private let blockBias: UnsafeMutablePointer<Float>
    private let blockGradient: UnsafeMutablePointer<Float>
    private let blockBiasGradient: UnsafeMutablePointer<Float>
    /// `batchCapacity x draws`: scores against the negatives, then their gradient.
    private let logits: UnsafeMutablePointer<Float>
    /// The bag movies' scores of every row, one after the other, then their gradient.
    private let targetScores: UnsafeMutablePointer<Float>
    private let targetCapacity: Int
    /// Row `r`'s bag scores start at `targetOffsets[r]`.
    private let targetOffsets: UnsafeMutablePointer<Int>
    private let ones: UnsafeMutablePointer<Float>
    private let rowLoss: UnsafeMutablePointer<Double>

    /// A sampler whose proposal comes from `bags` (the training bags, also the targets).
    init(bags: LikedMovies, movieCount: Int, dimension: Int, draws: Int, batchCapacity: Int, threads: Int, seed: UInt64) {
        self.draws = draws
        self.movieCount = movieCount
        self.dimension = dimension
        self.batchCapacity = batchCapacity
        self.threads = max(1, threads)
        self.seed = seed
        random = SeededRandom(seed: seed)
        var weights = [Double](repeating: 1, count: movieCount)
        for movie in bags.movies { weights[Int(movie)] += 1 }
        for m in 0..<movieCount { weights[m] = pow(weights[m], Self.proposalExponent) }
        (aliasProbability, aliasIndex) = SyntheticWorld.aliasTable(weights)
        let total = weights.reduce(0, +)
        logInclusion = LargeBuffer.allocate(Float.self, capacity: movieCount)
        for m in 0..<movieCount {
            let inclusion = -expm1(Double(draws) * log1p(-weights[m] / total))
            logInclusion[m] = Float(log(inclusion))
        }
        position = LargeBuffer.allocate(Int32.self, capacity: movieCount)
        position.initialize(repeating: -1, count: movieCount)
        candidates = LargeBuffer.allocate(Int32.self, capacity: draws)
        block = LargeBuffer.allocate(Float.self, capacity: draws * dimension)
        blockBias = LargeBuffer.allocate(Float.self, capacity: draws)
        blockGradient = LargeBuffer.allocate(Float.self, capacity: draws * dimension)
        blockBiasGradient = LargeBuffer.allocate(Float.self, capacity: draws)
        logits = LargeBuffer.allocate(Float.self, capacity: batchCapacity * draws)
        // Room for the largest bags that one batch can hold.
        let sizes = (0..<bags.userCount).map { bags.range($0).count }.sorted(by: >)
        targetCapacity = max(1, sizes.prefix(batchCapacity).reduce(0, +))
        targetScores = LargeBuffer.allocate(Float.self, capacity: targetCapacity)
        targetOffsets = LargeBuffer.allocate(Int.self, capacity: batchCapacity + 1)
        ones = LargeBuffer.allocate(Float.self, capacity: batchCapacity)
        ones.initialize(repeating: 1, count: batchCapacity)
        rowLoss = LargeBuffer.allocate(Double.self, capacity: batchCapacity)
    }

    deinit {
        for buffer in [logInclusion, block, blockBias, blockGradient, blockBiasGradient, logits, targetScores, ones] {
            LargeBuffer.free(buffer)
        }
        LargeBuffer.free(position)
        LargeBuffer.free(candidates)
        LargeBuffer.free(targetOffsets)
        LargeBuffer.free(rowLoss)
    }

    /// Starts the draws over from the seed (the gradient check evaluates one draw many times).
    func restartDraws() { random = SeededRandom(seed: seed) }

    /// The mean sampled negative log-likelihood of the rows' bags given their embeddings `e`
    /// (`rows x d`), with `dL/de` written to `embeddingGradient` and `dL/dV`, `dL/db` to the
    /// tensors' gradients.
    func lossAndGradients(
        embeddings e: UnsafeMutablePointer<Float>, users: [Int32], targets: LikedMovies,
        movieFactors: TrainableTensor, movieBias: TrainableTensor, embeddingGradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let rows = users.count
        precondition(rows <= batchCapacity, "a batch of \(rows) exceeds the capacity \(batchCapacity)")
        drawNegatives()
        gatherBlock(movieFactors: movieFactors.value, movieBias: movieBias.value)
        var total = 0
        for r in 0..<rows {
            targetOffsets[r] = total
            total += targets.range(Int(users[r])).count
        }
        targetOffsets[rows] = total
        precondition(total <= targetCapacity, "the batch's bags hold \(total) movies, more than the \(targetCapacity) planned")
        let n = candidateCount, d = dimension
        for r in 0..<rows { (logits + r * n).update(from: blockBias, count: n) }
        BLAS.gemmABt(m: rows, n: n, k: d, a: e, b: block, beta: 1, c: logits)
        scoreRows(embeddings: e, users: users, targets: targets, movieFactors: movieFactors.value, movieBias: movieBias.value)
        var loss = 0.0
        for r in 0..<rows { loss += rowLoss[r] }

        // dL/de: the negatives' part by one product, the bag's part row by row.
        BLAS.gemm(m: rows, n: d, k: n, a: logits, b: block, c: embeddingGradient)
        addBagRows(into: embeddingGradient, users: users, targets: targets, movieFactors: movieFactors.value)
        // dL/dV and dL/db: the negatives' block, scattered, then the bag movies' rows.
        BLAS.gemm(m: n, n: d, k: rows, a: logits, transposeA: true, b: e, c: blockGradient)
        BLAS.gemvTransposed(rows: rows, columns: n, matrix: logits, vector: ones, result: blockBiasGradient)
        scatter(into: movieFactors.gradient, biasGradient: movieBias.gradient, embeddings: e, rows: rows, users: users, targets: targets)
        return loss / Double(max(rows, 1))
    }

    /// Draws the negatives (distinct, in draw order) and indexes their positions.
    private func drawNegatives() {
        for c in 0..<candidateCount { position[Int(candidates[c])] = -1 }
        candidateCount = 0
        for _ in 0..<draws {
            let column = random.nextInt(below: movieCount)
            let m = Float(random.nextDouble()) < aliasProbability[column] ? column : Int(aliasIndex[column])
            guard position[m] < 0 else { continue }
            position[m] = Int32(candidateCount)
            candidates[candidateCount] = Int32(m)
            candidateCount += 1
        }
    }

    private func gatherBlock(movieFactors: UnsafePointer<Float>, movieBias: UnsafePointer<Float>) {
        let d = dimension
        for c in 0..<candidateCount {
            let m = Int(candidates[c])
            (block + c * d).update(from: movieFactors + m * d, count: d)
            blockBias[c] = movieBias[m] - logInclusion[m]
        }
    }

    /// Scores each row's bag, masks the negatives that are in the bag, and turns both score
    /// sets into their gradients (rows in parallel, each writing only its own entries).
    private func scoreRows(
        embeddings e: UnsafeMutablePointer<Float>, users: [Int32], targets: LikedMovies,
        movieFactors: UnsafeMutablePointer<Float>, movieBias: UnsafeMutablePointer<Float>
    ) {
        let rows = users.count, n = candidateCount, d = dimension
        let z = SharedPointer(logits), scores = SharedPointer(targetScores), starts = SharedPointer(targetOffsets)
        let loss = SharedPointer(rowLoss), positions = SharedPointer(position)
        let embeddings = SharedPointer(e), factors = SharedPointer(movieFactors), biases = SharedPointer(movieBias)
        let weight = 1 / Float(rows)
        targets.forEachBag(of: users, threads: threads) { r, bag in
            let row = z.base + r * n, own = scores.base + starts.base[r], user = embeddings.base + r * d
            for (i, movie) in bag.enumerated() {
                let m = Int(movie)
                own[i] = VectorKernels.dot(user, factors.base + m * d, count: d) + biases.base[m]
                let p = Int(positions.base[m])
                if p >= 0 { row[p] = -.infinity }
            }
            loss.base[r] = NeuralKernels.sampledSoftmaxCrossEntropy(
                negatives: row, count: n, targets: own, targetCount: bag.count, weight: weight)
        }
    }

    /// `dL/de_r += Σ g_i V[bag_i]` for every row (rows in parallel).
    private func addBagRows(
        into gradient: UnsafeMutablePointer<Float>, users: [Int32], targets: LikedMovies,
        movieFactors: UnsafeMutablePointer<Float>
    ) {
        let d = dimension
        let out = SharedPointer(gradient), scores = SharedPointer(targetScores), starts = SharedPointer(targetOffsets)
        let factors = SharedPointer(movieFactors)
        targets.forEachBag(of: users, threads: threads) { r, bag in
            let row = out.base + r * d, own = scores.base + starts.base[r]
            for (i, movie) in bag.enumerated() {
                VectorKernels.axpy(own[i], factors.base + Int(movie) * d, into: row, count: d)
            }
        }
    }

    /// Zeroes the `V` and `b` gradients, writes the negatives' block rows, then adds each bag
    /// movie's `g_i e_r`. The bag pass runs on workers owning disjoint column ranges (the first
    /// also owns the biases), so no two write the same float and the sums' order is fixed.
    private func scatter(
        into factorGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        embeddings e: UnsafeMutablePointer<Float>, rows: Int, users: [Int32], targets: LikedMovies
    ) {
        let d = dimension
        let gradient = SharedPointer(factorGradient), bias = SharedPointer(biasGradient)
        NeuralKernels.parallelRanges(count: movieCount * d, grain: 65_536, threads: threads) { range in
            (gradient.base + range.lowerBound).update(repeating: 0, count: range.count)
        }
        biasGradient.update(repeating: 0, count: movieCount)
        for c in 0..<candidateCount {
            let m = Int(candidates[c])
            (factorGradient + m * d).update(from: blockGradient + c * d, count: d)
            biasGradient[m] = blockBiasGradient[c]
        }
        let scores = SharedPointer(targetScores), starts = SharedPointer(targetOffsets), embeddings = SharedPointer(e)
        let offsets = targets.offsets, movies = targets.movies
        let chunks = ParallelChunks(rowCount: d, chunkCount: min(threads, d)) { _ in 1 }
        chunks.run(workers: threads, makeScratch: {}) { _, _, columns in
            movies.withUnsafeBufferPointer { all in
                for r in 0..<rows {
                    let u = Int(users[r])
                    let bag = UnsafeBufferPointer(rebasing: all[offsets[u] ..< offsets[u + 1]])
                    let own = scores.base + starts.base[r], user = embeddings.base + r * d
                    for (i, movie) in bag.enumerated() {
                        let m = Int(movie), g = own[i]
                        let row = gradient.base + m * d
                        for f in columns { row[f] += g * user[f] }
                        if columns.lowerBound == 0 { bias.base[m] += g }
                    }
                }
            }
        }
    }
}
