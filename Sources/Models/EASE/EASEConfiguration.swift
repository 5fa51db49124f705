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
        package var lambda: Float
        /// Movies rated at or above this are the user's inputs (0: every rated movie). Measured
        /// on the same splits, best lambda of each: every rated movie 0.320 against 0.313 for
        /// ratings >= 3.5 on ML-100K (integer ratings, so the same as >= 4), 0.252 against
        /// 0.255 (at lambda 16) on ML-latest-small: a wash, and every rated movie also needs no
        /// rating scale.
        package var likedThreshold: Float
        /// The largest catalogue fitted: the Gram matrix and the weights are movies² floats
        /// each (1.6 GB at 20,000 movies).
        package var maxMovies: Int
        package var threads: Int

        package init(
            lambda: Float = 8, likedThreshold: Float = 0, maxMovies: Int = 20_000,
            threads: Int = ProcessInfo.processInfo.activeProcessorCount
        ) {
            self.lambda = lambda
            self.likedThreshold = likedThreshold
            self.maxMovies = maxMovies
            self.threads = threads
        }

        package func validate() throws {
            let check = ModelError.require
            try check(lambda.isFinite && lambda > 0, "lambda", lambda, "positive")
            try check(likedThreshold.isFinite, "likedThreshold", likedThreshold, "finite")
            try check(maxMovies >= 1, "maxMovies", maxMovies, "at least 1")
            try check(threads >= 1, "threads", threads, "at least 1")
        }

        package var parameters: [String: String] {
            ["lambda": "\(lambda)", "likedThreshold": "\(likedThreshold)", "maxMovies": "\(maxMovies)"]
        }
    }
}
