/// The bookkeeping of early stopping on a validation score: the best score and its epoch, and
/// how many measurements in a row failed to beat it.
struct EarlyStopping {
    let patience: Int
    /// Whether a larger score is better (NDCG) or a smaller one (RMSE).
    let higherIsBetter: Bool
    private(set) var bestEpoch = 0
    private(set) var bestScore: Double
    private var sinceBest = 0

    init(patience: Int, higherIsBetter: Bool) {
        self.patience = patience
        self.higherIsBetter = higherIsBetter
        bestScore = higherIsBetter ? -.infinity : .infinity
    }

    /// Whether training goes on (fewer than `patience` measurements without a better score).
    var continues: Bool { sinceBest < patience }

    /// Records the score measured after `epoch`; true when it is the best so far (keep the
    /// parameters).
    mutating func record(_ score: Double, epoch: Int) -> Bool {
        guard higherIsBetter ? score > bestScore : score < bestScore else {
            sinceBest += 1
            return false
        }
        bestScore = score
        bestEpoch = epoch
        sinceBest = 0
        return true
    }
}
