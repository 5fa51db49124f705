/// Why publishing, switching or managing runs failed; each case names what was wrong.
package enum PublishError: Error, Equatable, CustomStringConvertible {
    /// Another process holds the training lock.
    case trainingInProgress
    /// The snapshot has no ratings.
    case noRatings
    /// A run id that `latent.model_runs` does not have.
    case unknownRun(Int64)
    /// A run that cannot be made current (failed, still running, or its rows are gone).
    case notPromotable(runID: Int64, status: String, why: String)
    /// The current run of a model cannot be dropped.
    case dropsCurrentRun(Int64)
    /// A partition that could not be removed after several attempts.
    case cleanupFailed(partition: String)
    /// The run was stopped before it was published (shutdown).
    case cancelled

    package var description: String {
        switch self {
        case .trainingInProgress:
            return "another Latent process is training (it holds the training lock); try again when it has finished"
        case .noRatings: return "no ratings in latent.ratings: nothing to train on"
        case .unknownRun(let id): return "no run \(id) in latent.model_runs"
        case let .notPromotable(id, status, why): return "run \(id) (\(status)) cannot be made current: \(why)"
        case .dropsCurrentRun(let id): return "run \(id) is current: promote another run of its model first"
        case .cleanupFailed(let partition): return "could not drop \(partition): readers kept it locked; it is retried at the next publish"
        case .cancelled: return "the run was cancelled before it was published"
        }
    }
}
