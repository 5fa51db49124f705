import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// Learning rate and batch size used in one epoch (recorded so a refit can replay them).
struct SGDScheduleStep: Sendable {
    var learningRate: Float
    var biasLearningRate: Float
    var batchSize: Int
}

struct SGDRunResult {
    var bestEpoch: Int
    var bestValidationRMSE: Double?
    var schedule: [SGDScheduleStep]
}

/// The adaptive schedule and early stopping of a run: the learning rates and batch size of
/// the next epoch, and the best epoch so far by the watched error (validation, else training).
struct SGDEpochSchedule {
    private let configuration: MatrixFactorizationSGD.Configuration
    /// Whether the rates and batch size follow the errors (not when a recorded schedule is replayed).
    let adapts: Bool
    var step: SGDScheduleStep
    /// The batch size before rounding, so repeated small factors accumulate.
    private var batch: Double
    private(set) var best = Double.infinity
    private(set) var bestEpoch = 0
    /// Epochs since the last improvement larger than the plateau.
    private(set) var sinceBest = 0

    init(_ c: MatrixFactorizationSGD.Configuration, adapts: Bool) {
        configuration = c
        self.adapts = adapts
        step = SGDScheduleStep(learningRate: c.learningRate, biasLearningRate: c.biasLearningRate, batchSize: c.batchSize)
        batch = Double(c.batchSize)
    }

    /// Multiplies both learning rates and the batch size by `factor`.
    mutating func scale(by factor: Float) {
        step.learningRate *= factor
        step.biasLearningRate *= factor
        batch *= Double(factor)
        step.batchSize = max(1, Int(batch.rounded(.down)))
    }

    /// Takes one finished epoch's watched error; returns whether it is the best so far.
    /// During warm-up a worse epoch is expected (factors leave their random start), and the
    /// best epoch is only sought from its end: an early minimum of the biases alone would
    /// otherwise hide the factors' slower gains. A plateau keeps the better parameters but
    /// counts towards early stopping.
    mutating func record(_ watched: Double, epoch: Int, maxEpochs: Int) -> Bool {
        let c = configuration
        let warmingUp = epoch < c.warmupEpochs && epoch < maxEpochs
        if epoch == c.warmupEpochs { best = .infinity }
        guard watched < best || warmingUp else {
            sinceBest += 1
            if adapts { scale(by: c.decay) }
            step.batchSize = max(1, Int(batch.rounded(.down)))
            return false
        }
        let relative = best.isFinite && !warmingUp ? (best - watched) / best : 1
        let isBest = watched <= best
        best = min(best, watched)
        if isBest { bestEpoch = epoch }
        let plateau = relative < Double(c.plateau)
        sinceBest = plateau ? sinceBest + 1 : 0
        if adapts { scale(by: plateau ? c.decay : c.growth) }
        step.batchSize = max(1, Int(batch.rounded(.down)))
        return isBest
    }
}

/// One training run: the blocked ratings, the parameters and the epoch loop.
struct SGDRun {
    let configuration: MatrixFactorizationSGD.Configuration
    let blocks: SGDBlocks
    private(set) var parameters: SGDParameters
    /// The training ratings, kept (not copied) for a restart after divergence.
    private let ratings: RatingTriples

    /// The mean training rating (the ratings in `blocks` are centred on it).
    var mean: Float { blocks.mean }

    init(configuration c: MatrixFactorizationSGD.Configuration, ratings: RatingTriples, users: Int, movies: Int) throws {
        configuration = c
        let groups = c.blocks > 0 ? c.blocks : min(64, max(8, Int((Double(ratings.count) / 30_000).squareRoot().rounded(.up))))
        blocks = SGDBlocks(ratings, userCount: users, movieCount: movies, groups: groups, seed: c.seed,
                           threads: c.threads)
        self.ratings = ratings
        parameters = try Self.start(c, ratings: ratings, users: users, movies: movies, mean: blocks.mean)
    }

    /// The starting parameters. Biases start at zero, as in Surprise: a closed-form baseline
    /// start (one or three sweeps) gave no better RMSE on ML-100K, ML-latest-small or the bench
    /// split. Deterministic for a seed, so a diverged run restarts from here without a copy.
    private static func start(_ c: MatrixFactorizationSGD.Configuration, ratings: RatingTriples, users: Int,
                              movies: Int, mean mu: Float) throws -> SGDParameters {
        let parameters = SGDParameters(k: c.k, userCount: users, movieCount: movies)
        switch c.initialisation {
        case .gaussian(let std):
            // Rows in fixed slices, each with its own generator: the same start for any thread count.
            let s = parameters.stride, k = c.k, seed = c.seed, slice = 1024
            let p = SharedPointer(parameters.p), q = SharedPointer(parameters.q)
            Self.parallel((users + movies + slice - 1) / slice, threads: c.threads) { part in
                var rng = SeededRandom(seed: (seed &+ 0x1) &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(part + 1))
                for row in (part * slice) ..< min(users + movies, (part + 1) * slice) {
                    rng.fillGaussian(row < users ? p.base + row * s : q.base + (row - users) * s, count: k, scale: std)
                }
            }
        case .truncatedSVD(let iterations):
            if c.k > 0 {
                // The SVD factors what the biases leave, so this start takes the baseline's biases.
                let (_, bu, bi) = BiasBaseline.biases(
                    ratings, userCount: users, movieCount: movies,
                    configuration: .init(userRegularisation: 5, movieRegularisation: 5, sweeps: 3))
                parameters.setBiases(users: bu, movies: bi)
                let sparse = SparseRatings(ratings, userCount: users, movieCount: movies)
                let svd = try TruncatedSVD.residual(
                    sparse, mean: mu, userBias: bu, movieBias: bi, rank: c.k, powerIterations: iterations,
                    seed: c.seed)
                let s = parameters.stride
                for u in 0..<users { for f in 0..<c.k { parameters.p[u * s + f] = svd.userFactors[u * c.k + f] } }
                for m in 0..<movies { for f in 0..<c.k { parameters.q[m * s + f] = svd.movieFactors[m * c.k + f] } }
            }
        }
        return parameters
    }

    /// Runs up to `maxEpochs` epochs; keeps (and ends with) the parameters of the best epoch
    /// when there is validation data. `schedule` replays recorded learning rates and batch sizes.
    mutating func train(
        validation: RatingTriples?, maxEpochs: Int, progress: ProgressReporter,
        onEpoch: ((MatrixFactorizationSGD.EpochReport) -> Void)?, refitting: Bool,
        schedule replay: [SGDScheduleStep]? = nil
    ) throws -> SGDRunResult {
        let c = configuration
        var schedule = SGDEpochSchedule(c, adapts: c.adaptive && replay == nil)
        var used: [SGDScheduleStep] = []
        var bestSnapshot: [Float]? = nil
        var order = SeededRandom(seed: c.seed &+ 0x2)
        let started = Date()
        let batchBuffers = (replay?.contains { $0.batchSize > 1 } ?? false) || c.batchSize > 1
            ? SGDGradientBuffers(parameters: parameters) : nil
        defer { batchBuffers?.deallocate() }
        var recoveries = 0
        var epoch = 0
        while epoch < maxEpochs {
            epoch += 1
            let epochStart = Date()
            if let replay, epoch - 1 < replay.count { schedule.step = replay[epoch - 1] }
            let trainingRMSE = runEpoch(schedule.step, order: &order, buffers: batchBuffers)
            if !trainingRMSE.isFinite, schedule.adapts, recoveries < 5 {
                // Diverged: go back to the best parameters so far (or the start) and cut the
                // learning rate. The epoch is redone (and not recorded, so a refit never replays
                // the bad rate).
                try restart(from: bestSnapshot)
                recoveries += 1
                schedule.scale(by: c.decay)
                epoch -= 1
                continue
            }
            guard trainingRMSE.isFinite else {
                throw ModelError.numerical(
                    "MF-SGD diverged at epoch \(epoch) (training error is not finite): lower the learning rate (now \(schedule.step.learningRate))")
            }
            used.append(schedule.step)
            if c.gravity > 0 && c.k > 0 { applyGravity(learningRate: schedule.step.learningRate) }
            let validationRMSE = validation.map { rmse(on: $0) }
            let isBest = schedule.record(validationRMSE ?? trainingRMSE, epoch: epoch, maxEpochs: maxEpochs)
            if isBest && validation != nil && !refitting { bestSnapshot = parameters.snapshot() }
            let mean = Date().timeIntervalSince(started) / Double(epoch)
            let report = MatrixFactorizationSGD.EpochReport(
                epoch: epoch, trainingRMSE: trainingRMSE, validationRMSE: validationRMSE,
                learningRate: used[epoch - 1].learningRate, batchSize: used[epoch - 1].batchSize,
                seconds: Date().timeIntervalSince(epochStart), secondsRemaining: mean * Double(maxEpochs - epoch),
                refitting: refitting)
            onEpoch?(report)
            reportProgress(report, of: maxEpochs, next: schedule.step, to: progress)
            if validation != nil && schedule.sinceBest >= c.patience { break }
        }
        if let bestSnapshot { parameters.restore(bestSnapshot) }
        let finalEpoch = validation != nil ? schedule.bestEpoch : epoch
        return SGDRunResult(
            bestEpoch: max(finalEpoch, 1), bestValidationRMSE: validation != nil ? schedule.best : nil,
            schedule: Array(used.prefix(max(finalEpoch, 1))))
    }

    /// One epoch over every block, strata in a seeded order; returns the training RMSE (before
    /// the epoch's updates finished: each rating's error as its block saw it).
    private func runEpoch(_ step: SGDScheduleStep, order: inout SeededRandom, buffers: SGDGradientBuffers?) -> Double {
        let c = configuration
        let kernelStep = SGDStep(
            learningRate: step.learningRate, biasLearningRate: step.biasLearningRate,
            regularisation: c.regularisation, biasRegularisation: c.biasRegularisation)
        let shared = SGDShared(
            entries: blocks.entries, p: parameters.p, q: parameters.q, stride: parameters.stride,
            gp: buffers?.gp, gq: buffers?.gq, touchedUser: buffers?.touchedUser, touchedMovie: buffers?.touchedMovie)
        let g = blocks.groups
        var strata = Array(0..<g)
        order.shuffle(&strata)
        let work = strata.flatMap { s in (0..<g).map { ug in blocks.range(userGroup: ug, movieGroup: (ug + s) % g) } }
        var blockSSE = [Double](repeating: 0, count: work.count)
        let batchSize = step.batchSize
        blockSSE.withUnsafeMutableBufferPointer { out in
            let sink = SharedFloatSink(out.baseAddress)
            Self.runStrata(work, groups: g, threads: c.threads) { item in
                let value: Double
                if batchSize > 1 {
                    var tu: [Int32] = [], tm: [Int32] = []
                    value = SGDKernel.runBatched(shared, work[item], kernelStep, batchSize: batchSize,
                                                 touchedUsers: &tu, touchedMovies: &tm)
                } else {
                    value = SGDKernel.run(shared, work[item], kernelStep)
                }
                sink.add(value, at: item)
            }
        }
        return (blockSSE.reduce(0, +) / Double(max(blocks.count, 1))).squareRoot()
    }

    /// Back to the best parameters so far, or to the (seeded, so identical) start.
    private mutating func restart(from snapshot: [Float]?) throws {
        if let snapshot {
            parameters.restore(snapshot)
        } else {
            parameters = try Self.start(configuration, ratings: ratings, users: parameters.userCount,
                                        movies: parameters.movieCount, mean: mean)
        }
    }

    private func reportProgress(
        _ report: MatrixFactorizationSGD.EpochReport, of maxEpochs: Int, next step: SGDScheduleStep, to progress: ProgressReporter
    ) {
        progress.step(report.refitting ? "MF-SGD refit" : "MF-SGD", [
            "epoch": "\(report.epoch)/\(maxEpochs)", "train_rmse": format(report.trainingRMSE),
            "val_rmse": report.validationRMSE.map(format) ?? "-", "lr": "\(step.learningRate)",
            "batch": "\(step.batchSize)", "eta": ProgressReporter.duration(report.secondsRemaining),
        ])
    }

    private func format(_ x: Double) -> String { String((x * 10000).rounded() / 10000) }

    /// RMSE of clipped predictions on `triples` (deterministic: fixed chunks summed in order).
    func rmse(on triples: RatingTriples) -> Double {
        let n = triples.count
        guard n > 0 else { return 0 }
        let chunks = 8
        var sums = [Double](repeating: 0, count: chunks)
        let lo = configuration.ratingScale.lowerBound, hi = configuration.ratingScale.upperBound
        let mu = mean
        let params = SharedParameters(parameters)
        SharedTriples.with(triples) { view in
            guard let view else { return }
            sums.withUnsafeMutableBufferPointer { out in
                let sink = SharedFloatSink(out.baseAddress)
                Self.parallel(chunks, threads: configuration.threads) { c in
                    var s: Double = 0
                    for i in (n * c / chunks) ..< (n * (c + 1) / chunks) {
                        let pred = min(max(mu + params.score(Int(view.users[i]), Int(view.movies[i])), lo), hi)
                        let e = Double(view.ratings[i] - pred)
                        s += e * e
                    }
                    sink.add(s, at: c)
                }
            }
        }
        return (sums.reduce(0, +) / Double(n)).squareRoot()
    }

    /// One full-gradient step of the gravity term
    /// `gravity * |train| / (users * movies) * sum_ij (p_i . q_j)^2` (seed 003), whose gradient
    /// is `2 * scale * P (Q^T Q)` for P and `2 * scale * Q (P^T P)` for Q.
    private func applyGravity(learningRate: Float) {
        let s = parameters.stride, k = parameters.k, nu = parameters.userCount, nm = parameters.movieCount
        guard k > 0, nu > 0, nm > 0 else { return }
        let scale = 2 * learningRate * configuration.gravity * Float(blocks.count) / (Float(nu) * Float(nm))
        var gq = [Float](repeating: 0, count: k * k), gp = [Float](repeating: 0, count: k * k)
        gq.withUnsafeMutableBufferPointer { gq in
            gp.withUnsafeMutableBufferPointer { gp in
                guard let gqb = gq.baseAddress, let gpb = gp.baseAddress else { return }
                // The factors are the first k columns of the rows (leading dimension s); the
                // bias lanes stay out. Gram matrices (row-major k x k): Q^T Q and P^T P.
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(k), Int32(nm), 1,
                            parameters.q, Int32(s), parameters.q, Int32(s), 0, gqb, Int32(k))
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(k), Int32(nu), 1,
                            parameters.p, Int32(s), parameters.p, Int32(s), 0, gpb, Int32(k))
                // P -= scale * P Gq ; Q -= scale * Q Gp (both from the old values: copy P first).
                let oldP = UnsafeMutablePointer<Float>.allocate(capacity: nu * s)
                defer { oldP.deallocate() }
                oldP.update(from: parameters.p, count: nu * s)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nu), Int32(k), Int32(k), -scale,
                            oldP, Int32(s), gqb, Int32(k), 1, parameters.p, Int32(s))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nm), Int32(k), Int32(k), -scale,
                            parameters.q, Int32(s), gpb, Int32(k), 1, parameters.q, Int32(s))
            }
        }
    }

    /// The trained model; rows without training ratings are zeroed (their random start carries no information).
    func model(users: IDIndex, movies: IDIndex, parameters extra: [String: String]) -> FactorModel {
        let k = configuration.k
        var bu = [Float](repeating: 0, count: parameters.userCount)
        var bm = [Float](repeating: 0, count: parameters.movieCount)
        var p = parameters.userFactors(), q = parameters.movieFactors()
        for u in 0..<parameters.userCount {
            if blocks.userCounts[u] > 0 { bu[u] = parameters.userBias(u) } else { for f in 0..<k { p[u * k + f] = 0 } }
        }
        for m in 0..<parameters.movieCount {
            if blocks.movieCounts[m] > 0 { bm[m] = parameters.movieBias(m) } else { for f in 0..<k { q[m * k + f] = 0 } }
        }
        return FactorModel(
            kind: .mf, k: k, globalMean: mean, userBias: bu, movieBias: bm, userFactors: p, movieFactors: q,
            users: users, movies: movies, ratingScale: configuration.ratingScale, parameters: extra)
    }

    /// Runs the blocks of an epoch, `groups` strata of `groups` blocks each, stratum after
    /// stratum, on `threads` workers started once per epoch: a worker takes the next block from
    /// a shared counter and, before starting a block, waits until every block of the earlier
    /// strata is finished (the blocks of one stratum share no rows; blocks of different strata
    /// do). Cheaper than a fork and join per stratum, and no thread idles at a stratum's end
    /// while another block of it is still unclaimed.
    static func runStrata(_ work: [Range<Int>], groups: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        let workers = min(threads, groups)
        guard workers > 1 else {
            for item in work.indices { body(item) }
            return
        }
        let claimed = Atomic<Int>(0), finished = Atomic<Int>(0)
        let count = work.count
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let item = claimed.wrappingAdd(1, ordering: .relaxed).oldValue
                guard item < count else { return }
                let ready = item / groups * groups
                var spins = 0
                while finished.load(ordering: .acquiring) < ready {
                    spins += 1
                    if spins & 255 == 0 { sched_yield() }
                }
                body(item)
                finished.wrappingAdd(1, ordering: .releasing)
            }
        }
    }

    /// Runs `body(0..<count)` on up to `threads` threads (sequentially for one).
    static func parallel(_ count: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        if threads <= 1 || count <= 1 {
            for i in 0..<count { body(i) }
        } else {
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        }
    }
}

/// Gradient accumulators for mini-batches, shaped like the parameters.
struct SGDGradientBuffers {
    let gp, gq: UnsafeMutablePointer<Float>
    let touchedUser, touchedMovie: UnsafeMutablePointer<Int32>

    init(parameters: SGDParameters) {
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let x = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            x.initialize(repeating: 0, count: max(n, 1))
            return x
        }
        gp = zeros(parameters.userCount * parameters.stride)
        gq = zeros(parameters.movieCount * parameters.stride)
        touchedUser = .allocate(capacity: max(parameters.userCount, 1))
        touchedUser.initialize(repeating: 0, count: max(parameters.userCount, 1))
        touchedMovie = .allocate(capacity: max(parameters.movieCount, 1))
        touchedMovie.initialize(repeating: 0, count: max(parameters.movieCount, 1))
    }

    func deallocate() {
        gp.deallocate(); gq.deallocate()
        touchedUser.deallocate(); touchedMovie.deallocate()
    }
}

/// Per-slot results written by parallel workers (each worker writes only its own slot).
/// `@unchecked Sendable`: slots are disjoint.
struct SharedFloatSink: @unchecked Sendable {
    let base: UnsafeMutablePointer<Double>?
    init(_ base: UnsafeMutablePointer<Double>?) { self.base = base }
    func add(_ value: Double, at slot: Int) { base?[slot] += value }
}

/// Read-only views of triples for parallel readers. `@unchecked Sendable`: never written.
struct SharedTriples: @unchecked Sendable {
    let users: UnsafePointer<Int32>
    let movies: UnsafePointer<Int32>
    let ratings: UnsafePointer<Float>

    /// Calls `body` with a view of `triples` (nil when empty).
    static func with<R>(_ triples: RatingTriples, _ body: (SharedTriples?) -> R) -> R {
        triples.users.withUnsafeBufferPointer { us in
            triples.movies.withUnsafeBufferPointer { ms in
                triples.ratings.withUnsafeBufferPointer { rs in
                    guard let u = us.baseAddress, let m = ms.baseAddress, let r = rs.baseAddress else { return body(nil) }
                    return body(SharedTriples(users: u, movies: m, ratings: r))
                }
            }
        }
    }
}

/// Read-only parameter view for parallel scoring. `@unchecked Sendable`: read while no one writes.
struct SharedParameters: @unchecked Sendable {
    let p, q: UnsafeMutablePointer<Float>
    let stride: Int
    init(_ x: SGDParameters) {
        p = x.p; q = x.q; stride = x.stride
    }
    /// `b_u + b_m + p_u . q_m`: the dot product of the rows, whose bias lanes meet the constant 1s.
    @inline(__always)
    func score(_ u: Int, _ m: Int) -> Float {
        var s: Float = 0
        let pu = p + u * stride, qm = q + m * stride
        for f in 0..<stride { s += pu[f] * qm[f] }
        return s
    }
}
