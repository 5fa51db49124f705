import Models

/// The ratings one training cycle shares between its models, read from the database by the
/// first publish that needs them.
///
/// Every model of a cycle then trains and is validated on the same data, so their validation
/// NDCG@10, which picks the model that serves, compares like with like; and a large snapshot
/// is read once per cycle instead of once per model (22 s at 32M ratings). Owned by one cycle
/// on one thread.
package final class CycleSnapshot {
    private var loaded: (snapshot: DatabaseSnapshot, rated: SparseRatings)?

    package init() {}

    /// Whether a model of the cycle has loaded the snapshot already.
    var isLoaded: Bool { loaded != nil }

    /// The shared snapshot and its user-major index of rated movies, loading them on first use.
    func get(_ load: () throws -> (DatabaseSnapshot, SparseRatings)) rethrows -> (DatabaseSnapshot, SparseRatings) {
        if let loaded { return loaded }
        let fresh = try load()
        loaded = fresh
        return fresh
    }
}
