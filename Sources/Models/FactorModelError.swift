/// Errors of model training, scoring and persistence, each naming what was wrong.
package enum ModelError: Error, Equatable, CustomStringConvertible {
    /// A user id the model has never seen.
    case unknownUser(Int64)
    /// A movie id the model has never seen.
    case unknownMovie(Int64)
    /// A hyper-parameter outside its allowed range.
    case invalidParameter(name: String, value: String, requirement: String)
    /// Training data with nothing to learn from.
    case emptyData(String)
    /// A rating that is NaN, infinite, or otherwise unusable.
    case invalidRating(movieID: Int64, rating: Float)
    /// A model file that is truncated, has the wrong magic/version, or inconsistent sizes.
    case corruptFile(path: String, reason: String)
    /// A file that could not be read or written.
    case io(path: String, reason: String)
    /// A numerical failure (a factorisation broke down), with the context.
    case numerical(String)
    /// A model whose size grows with the square of the catalogue (EASE) asked to fit more
    /// movies than its configured limit.
    case catalogueTooLarge(model: String, movies: Int, limit: Int)

    package var description: String {
        switch self {
        case let .unknownUser(id): return "unknown user id \(id): the model was not trained on this user (fold it in first)"
        case let .unknownMovie(id): return "unknown movie id \(id): the model has no such movie"
        case let .invalidParameter(name, value, requirement): return "invalid \(name) = \(value): must be \(requirement)"
        case let .emptyData(what): return "no data: \(what)"
        case let .invalidRating(movieID, rating): return "invalid rating \(rating) for movie \(movieID): ratings must be finite numbers"
        case let .corruptFile(path, reason): return "\(path) is not a valid Latent model file: \(reason)"
        case let .io(path, reason): return "cannot access \(path): \(reason)"
        case let .numerical(what): return "numerical failure: \(what)"
        case let .catalogueTooLarge(model, movies, limit):
            let tenths = Int((Double(movies) * Double(movies) * 4 / 1e8).rounded())
            return "the catalogue has \(movies) movies, above \(model)'s limit of \(limit) movies: its item-item matrices would "
                + "need \(tenths / 10).\(tenths % 10) GB each (raise the limit, or use a factor model such as als or neural)"
        }
    }
}
