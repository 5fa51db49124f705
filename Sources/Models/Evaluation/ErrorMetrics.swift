import Records
import Foundation

/// Rating-prediction error on held-out ratings.
///
/// Rows whose user or movie the model does not know are still predicted — from what is known
/// (global mean, the known bias, the movie's vector when it has one, e.g. ALS's genre prior) —
/// and counted: never dropped. `rmse`/`mae`/`mse` cover all rows; `known*` only rows where both
/// sides were known.
public struct ErrorMetrics: Sendable, Equatable, CustomStringConvertible {
    public var rmse: Double
    public var mae: Double
    public var mse: Double
    /// All scored rows.
    public var count: Int
    /// Rows with an unknown user or movie (predicted from partial knowledge).
    public var unknownCount: Int
    /// RMSE over rows whose user and movie were both known (NaN when there are none).
    public var knownRMSE: Double

    public var description: String {
        func f(_ x: Double) -> String {
            guard x.isFinite else { return "nan" }
            let s = String((x * 10000).rounded() / 10000)
            let parts = s.split(separator: ".")
            let frac = parts.count > 1 ? String(parts[1]) : ""
            return "\(parts[0]).\(frac.padding(toLength: 4, withPad: "0", startingAt: 0))"
        }
        var line = "rmse=\(f(rmse)) mae=\(f(mae)) n=\(count)"
        if unknownCount > 0 { line += " unknown=\(unknownCount) known_rmse=\(f(knownRMSE))" }
        return line
    }
}

/// Accuracy and ranking measures for any ``FactorModel``.
public enum Evaluation {
    /// Errors on `test`, whose indices are the model's dense indices (a split of the training
    /// dataset). When `train` is given, a user or movie with no training rating counts as
    /// unknown (its trained parameters carry no information); indices beyond the model's
    /// id indices always do.
    public static func errors(of model: FactorModel, on test: RatingTriples, train: RatingTriples? = nil) -> ErrorMetrics {
        var userKnown = [Bool](repeating: train == nil, count: model.users.count)
        var movieKnown = [Bool](repeating: train == nil, count: model.movies.count)
        if let train {
            for u in train.users where Int(u) < userKnown.count { userKnown[Int(u)] = true }
            for m in train.movies where Int(m) < movieKnown.count { movieKnown[Int(m)] = true }
        }
        var acc = ErrorAccumulator()
        for i in 0..<test.count {
            let u = Int(test.users[i]), m = Int(test.movies[i])
            let knowsUser = u >= 0 && u < userKnown.count && userKnown[u]
            // A movie without training ratings but inside the model may still have a vector
            // (a genre prior): use what the model holds for it.
            let hasMovie = m >= 0 && m < model.movies.count
            let knowsMovie = hasMovie && movieKnown[m]
            let prediction = predict(model, user: knowsUser ? u : nil, movie: hasMovie ? m : nil)
            acc.add(actual: test.ratings[i], predicted: prediction, known: knowsUser && knowsMovie)
        }
        return acc.metrics
    }

    /// Errors on ratings with external ids (for example a ratings file): ids the model never
    /// saw are predicted from what is known and counted in `unknownCount`.
    public static func errors<S: Sequence>(of model: FactorModel, on records: S) throws -> ErrorMetrics
    where S.Element == RatingRecord {
        var acc = ErrorAccumulator()
        for r in records {
            guard r.rating.isFinite else { throw ModelError.invalidRating(movieID: r.movieID, rating: r.rating) }
            let u = model.users[r.userID].map(Int.init), m = model.movies[r.movieID].map(Int.init)
            acc.add(actual: r.rating, predicted: predict(model, user: u, movie: m), known: u != nil && m != nil)
        }
        return acc.metrics
    }

    /// Prediction from whatever is known: `mu`, plus the user's bias when known, plus the
    /// movie's bias when known, plus `p_u . q_i` when both are known; clipped to the scale.
    public static func predict(_ model: FactorModel, user: Int?, movie: Int?) -> Float {
        if let user, let movie { return model.predict(user: user, movie: movie) }
        var score = model.globalMean
        if let user { score += model.userBias[user] }
        if let movie { score += model.movieBias[movie] }
        return min(max(score, model.ratingScale.lowerBound), model.ratingScale.upperBound)
    }
}

/// Running sums for ``ErrorMetrics``.
struct ErrorAccumulator {
    var squared = 0.0, absolute = 0.0, knownSquared = 0.0
    var count = 0, unknown = 0

    mutating func add(actual: Float, predicted: Float, known: Bool) {
        let e = Double(actual) - Double(predicted)
        squared += e * e
        absolute += abs(e)
        count += 1
        if known { knownSquared += e * e } else { unknown += 1 }
    }

    var metrics: ErrorMetrics {
        let n = Double(max(count, 1))
        let known = count - unknown
        return ErrorMetrics(
            rmse: count == 0 ? .nan : (squared / n).squareRoot(), mae: count == 0 ? .nan : absolute / n,
            mse: count == 0 ? .nan : squared / n, count: count, unknownCount: unknown,
            knownRMSE: known == 0 ? .nan : (knownSquared / Double(known)).squareRoot())
    }
}
