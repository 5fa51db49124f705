import Foundation

extension EASE {
    /// EASE's hyper-parameters.
    package struct Configuration: Sendable, Equatable {
        /// L2 penalty added to the diagonal of `X^T X`, in units of users: a ridge prior,
        /// whose best strength does not grow with the number of users (more users of the
        /// same kind sharpen the co-occurrence counts, not the prior). Steck reports 200
        /// (Million Song Data), 500 (ML-20M) and 1000 (Netflix) on sets of 0.5-0.6M users.
        /// Measured here, NDCG@10 on seeded random 90/10 splits (held-out ratings >= 4
        /// relevant, training movies left out, float32 inverse) at lambda 100 / 200 / 300:
        /// ML-100K 0.304-0.308 / 0.306-0.316 / 0.307-0.317 over three seeds and both input
        /// thresholds; ML-latest-small 0.247-0.259 / 0.247-0.260 / 0.244-0.257 over two.
        /// The former default, 8 x the mean ratings per movie, made the penalty grow with the
        /// data (430 on ML-100K, 75 on ML-latest-small, 8000 on ML-20M) and lost 1-2% on
        /// ML-latest-small.
        package var lambda: Float = 200
        /// Movies rated at or above this are the user's inputs (0: every rated movie), in
        /// training and in fold-in alike. 3.5 keeps the liked movies, as Liang et al. and
        /// Steck binarise MovieLens. Measured at lambda 200 (splits above): random splits
        /// ML-100K 0.313 against 0.309 for every rated movie, ML-latest-small 0.250 against
        /// 0.257; for held-out users, whose fold-in holds only their ratings >= 4,
        /// ML-100K 0.322 against 0.305 (training rows then look like fold-in rows) and
        /// ML-latest-small 0.266 against 0.268.
        package var likedThreshold: Float = 3.5
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
