import Foundation

/// Figure 8 of the study of latent spaces for user preferences: test error of MF-SGD against
/// the number of latent dimensions k (k = 0 is the biases-only model trained the same way),
/// optionally with the study's rating MLP (§4.9) at embedding width k beside it.
package enum KSweep {
    /// The seed's values of k.
    package static let seedKs = [0, 1, 2, 3, 5, 10, 20, 40, 100]

    /// One trained k.
    package struct Row: Sendable, Equatable {
        package var k: Int
        package var rmse: Double
        package var mse: Double
        package var mae: Double
        /// Epochs of the returned model (best epoch by validation).
        package var epochs: Int
        package var seconds: Double
        /// Test RMSE and training seconds of the rating MLP with embeddings of width k (nil
        /// when not run, and for k = 0).
        package var mlpRMSE: Double?
        package var mlpSeconds: Double?

        package init(
            k: Int, rmse: Double, mse: Double, mae: Double, epochs: Int, seconds: Double,
            mlpRMSE: Double? = nil, mlpSeconds: Double? = nil
        ) {
            self.k = k
            self.rmse = rmse
            self.mse = mse
            self.mae = mae
            self.epochs = epochs
            self.seconds = seconds
            self.mlpRMSE = mlpRMSE
            self.mlpSeconds = mlpSeconds
        }
    }

    /// Trains one model per k on `split.train` (same configuration apart from k) and scores
    /// it on `split.test`; with `mlp`, also that rating MLP with embeddings of width k (k > 0).
    /// Indices of `split` refer to `dataset`.
    package static func run(
        dataset: Dataset, split: RatingSplit, ks: [Int] = seedKs,
        configuration: MatrixFactorizationSGD.Configuration = .init(), mlp: RatingMLP.Configuration? = nil,
        progress: ProgressReporter = .silent
    ) throws -> [Row] {
        guard !ks.isEmpty else { throw ModelError.invalidParameter(name: "ks", value: "[]", requirement: "at least one k") }
        for k in ks where k < 0 {
            throw ModelError.invalidParameter(name: "k", value: "\(k)", requirement: "zero or positive")
        }
        var rows: [Row] = []
        for k in ks {
            var c = configuration
            c.k = k
            let started = Date()
            let model = try MatrixFactorizationSGD(configuration: c).fit(
                ratings: split.train, users: dataset.users, movies: dataset.movies, progress: progress)
            let e = Evaluation.errors(of: model, on: split.test, train: split.train)
            var row = Row(k: k, rmse: e.rmse, mse: e.mse, mae: e.mae,
                          epochs: Int(model.parameters["bestEpoch"] ?? "") ?? c.epochs,
                          seconds: Date().timeIntervalSince(started))
            if var m = mlp, k > 0 {
                m.dimension = k
                let mlpStarted = Date()
                let network = try RatingMLP(configuration: m).fit(
                    ratings: split.train, users: dataset.users, movies: dataset.movies, progress: progress)
                row.mlpSeconds = Date().timeIntervalSince(mlpStarted)
                row.mlpRMSE = Evaluation.errors(of: network, on: split.test, train: split.train).rmse
            }
            progress.finish("k-sweep", [
                "k": "\(k)", "rmse": String(format: "%.4f", row.rmse), "mse": String(format: "%.4f", row.mse),
                "mlp_rmse": row.mlpRMSE.map { String(format: "%.4f", $0) } ?? "-",
            ])
            rows.append(row)
        }
        return rows
    }

    /// A fixed-width text table of the rows (what the CLI prints).
    package static func table(_ rows: [Row]) -> String {
        var out = "    k     rmse      mse      mae  epochs  seconds  mlp_rmse  mlp_seconds\n"
        for r in rows {
            out += String(format: "%5d  %7.4f  %7.4f  %7.4f  %6d  %7.2f", r.k, r.rmse, r.mse, r.mae, r.epochs, r.seconds)
            out += r.mlpRMSE.map { String(format: "  %8.4f", $0) } ?? "         -"
            out += r.mlpSeconds.map { String(format: "  %11.2f\n", $0) } ?? "            -\n"
        }
        return out
    }

    /// The Figure 8 plot: test MSE (and RMSE) against k.
    package static func plot(_ rows: [Row], title: String = "Test error by number of latent dimensions") -> String {
        SVGPlot.lineChart(
            title: title, xLabel: "latent dimensions k", yLabel: "error on test set",
            series: [
                .init(name: "MSE", points: rows.map { (Double($0.k), $0.mse) }),
                .init(name: "RMSE", points: rows.map { (Double($0.k), $0.rmse) }),
            ] + (rows.contains { $0.mlpRMSE != nil }
                ? [.init(name: "MLP RMSE", points: rows.compactMap { r in r.mlpRMSE.map { (Double(r.k), $0) } })] : []),
            xAxis: .categorical)
    }
}
