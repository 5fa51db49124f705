import Foundation

extension EASE {
    /// EASE's hyper-parameters.
    package struct Configuration: Sendable, Equatable {
        /// L2 penalty on the weights, relative to the mean diagonal of `X^T X` (the mean
        /// number of input users per movie), so it scales with the data. Measured NDCG@10 on
        /// seeded random 90/10 splits (held-out ratings >= 4 relevant, training movies left
        /// out, every rated movie as input; float32 spotrf + spotri as here): ML-100K 0.291 /
        /// 0.307 / 0.318 / 0.320 / 0.311 at 1 / 2 / 4 / 8 / 16; ML-latest-small 0.243 / 0.252 /
        /// 0.251 / 0.251 at 4 / 8 / 16 / 32. 8 is best on both; not yet measured on a
        /// synthetic set.
        package var lambda: Float = 8
        /// Movies rated at or above this are the user's inputs (0: every rated movie). Measured
        /// on the same splits, best lambda of each: every rated movie 0.320 against 0.313 for
        /// ratings >= 3.5 on ML-100K (integer ratings, so the same as >= 4), 0.252 against
        /// 0.255 (at lambda 16) on ML-latest-small: a wash, and every rated movie also needs no
        /// rating scale.
        package var likedThreshold: Float = 0
        /// The largest catalogue fitted: the Gram matrix and the weights are movies² floats
        /// each (900 MB at 15,000 movies). The published model file holds the weights in one
        /// PostgreSQL `bytea` value, which cannot exceed 1 GB (about 15,800 movies).
        package var maxMovies = 15_000
        package var threads = ProcessInfo.processInfo.activeProcessorCount

        /// Every default; set the fields to change them.
        package init() {}

        package func validate() throws {
            try ParameterCheck.positive("lambda", lambda)
            try ParameterCheck.finite("likedThreshold", likedThreshold)
            try ParameterCheck.integer("maxMovies", maxMovies, atLeast: 1)
            try ParameterCheck.integer("threads", threads, atLeast: 1)
        }

        package var parameters: [String: String] {
            ["lambda": "\(lambda)", "likedThreshold": "\(likedThreshold)", "maxMovies": "\(maxMovies)"]
        }
    }
}
