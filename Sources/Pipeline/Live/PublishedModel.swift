import Foundation
import Models
import Postgres

extension FactorModel {
    /// Published run `runID` as the live path needs it: the stored model file when the run has
    /// one (models with an encoder), else the movie side read back from its tables (kind,
    /// global mean, movie biases and vectors, training parameters for fold-in) with no users:
    /// the live path folds each user in from their ratings.
    package static func published(runID: Int64, from connection: PostgresConnection) throws -> FactorModel {
        var file: [UInt8]?
        try connection.copyOut("copy (select bytes from latent.model_files where run_id = \(runID)) to stdout (format binary)") { row in
            file = try row.bytes(0)
        }
        if let file { return try FactorModel.deserialize(bytes: file) }
        let run = try connection.query(
            "select model, coalesce(global_mean, 0), coalesce(dimensions, 0), parameters::text from latent.model_runs where run_id = $1::bigint",
            [String(runID)])
        guard run.rowCount == 1, let kind = run[0, 0].flatMap(ModelKind.init(rawValue:)), let mean = run[0, 1].flatMap({ Float($0) }),
              let k = run[0, 2].flatMap({ Int($0) }) else { throw PublishError.unknownRun(runID) }
        var parameters: [String: String] = [:]
        if let text = run[0, 3] {
            parameters = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        }
        var ids: [Int64] = [], biases: [Float] = [], vectors: [Float] = []
        try connection.copyOut(
            "copy (select movie_id, bias, vector from \(RunTable.movieVectors.partition(runID)) order by movie_id) to stdout (format binary)"
        ) { row in
            let vector = try row.floatArray(2)
            guard vector.count == k else {
                throw PostgresError(kind: .invalidUsage, message: "run \(runID): movie vector of length \(vector.count), expected \(k)")
            }
            ids.append(try row.int64(0))
            biases.append(try row.float(1))
            vectors.append(contentsOf: vector)
        }
        return FactorModel(
            kind: kind, k: k, globalMean: mean, userBias: [], movieBias: biases, userFactors: [], movieFactors: vectors,
            users: IDIndex(), movies: IDIndex(ids: ids), parameters: parameters)
    }
}
