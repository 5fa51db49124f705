import ArgumentParser
import Foundation
import Models

/// `latent bench-fold-in` (hidden, for ops/bench): microseconds per fold-in of a new user at
/// k = 64, against a bare (k+1) x (k+1) Cholesky factor-and-solve timed in the same run.
struct BenchFoldInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-fold-in", abstract: "Time fold-in of new users (benchmark).", shouldDisplay: false)

    @Option(help: ArgumentHelp("A MovieLens ratings file to train the movie side on.", valueName: "file"))
    var ratings: String

    @Option(help: ArgumentHelp("The matching movies file (genres).", valueName: "file"))
    var movies: String?

    @Option(help: "Latent dimensions.")
    var k = 64

    @Option(help: "Fold-ins timed per size.")
    var repetitions = 2_000

    func run() throws {
        let dataset = try MovieLens.loadDataset(ratings: ratings, movies: movies)
        let model = try AlternatingLeastSquares(configuration: .init(k: k, iterations: 3)).fit(dataset)
        let regularization = try FoldInRegularization(model: model)
        let context = FoldInContext(model: model, missingRating: regularization.missingRating)

        // Reference: the irreducible LAPACK part of one fold-in.
        let order = k + 1
        var spd = [Float](repeating: 0, count: order * order)
        for i in 0..<order { spd[i * order + i] = Float(order) }
        for i in 0..<order { for j in 0..<order where i != j { spd[i * order + j] = 0.5 } }
        let rhs = [Float](repeating: 1, count: order)
        let referenceStart = Date()
        for _ in 0..<repetitions { _ = try Cholesky.solve(spd, order: order, rightHandSide: rhs) }
        let reference = Date().timeIntervalSince(referenceStart) / Double(repetitions) * 1e6
        print("reference: cholesky (k+1)=\(order) \(MetricText.fixed(reference)) us")

        for n in [5, 50, 500] where n <= model.movies.count {
            let step = max(1, model.movies.count / n)
            let list = (0..<n).map { (movieID: model.movies.ids[($0 * step) % model.movies.count], rating: Float(1 + $0 % 5)) }
            let start = Date()
            for _ in 0..<repetitions { _ = try model.foldIn(ratings: list, regularization: regularization, context: context) }
            let perCall = Date().timeIntervalSince(start) / Double(repetitions) * 1e6
            print("fold-in k=\(k) ratings=\(n) \(MetricText.fixed(perCall)) us ratio_to_cholesky=\(MetricText.fixed(perCall / reference))")
        }
    }
}
