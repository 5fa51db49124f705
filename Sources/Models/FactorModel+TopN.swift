/// Keeps the `capacity` highest scores seen (a min-heap on score), without sorting
/// everything: O(n log N) for n candidates. Ties keep the lower index.
struct TopNSelector {
    private(set) var indices: [Int32] = []
    private(set) var scores: [Float] = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        indices.reserveCapacity(self.capacity)
        scores.reserveCapacity(self.capacity)
    }

    /// Whether `capacity` entries are kept (a new one must beat ``minimumScore``).
    var isFull: Bool { indices.count >= capacity }

    /// The lowest kept score (the heap's root); only meaningful when non-empty.
    var minimumScore: Float { scores.first ?? -.infinity }

    mutating func reset() {
        indices.removeAll(keepingCapacity: true)
        scores.removeAll(keepingCapacity: true)
    }

    /// Whether (score, index) ranks below (otherScore, otherIndex).
    @inline(__always)
    private static func below(_ s: Float, _ i: Int32, _ t: Float, _ j: Int32) -> Bool {
        s < t || (s == t && i > j)
    }

    @inline(__always)
    mutating func offer(index: Int32, score: Float) {
        guard capacity > 0, !score.isNaN else { return }
        if indices.count < capacity {
            indices.append(index)
            scores.append(score)
            var c = indices.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                guard Self.below(scores[c], indices[c], scores[p], indices[p]) else { break }
                indices.swapAt(c, p)
                scores.swapAt(c, p)
                c = p
            }
            return
        }
        guard Self.below(scores[0], indices[0], score, index) else { return }
        scores[0] = score
        indices[0] = index
        var p = 0
        let n = indices.count
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < n, Self.below(scores[l], indices[l], scores[m], indices[m]) { m = l }
            if r < n, Self.below(scores[r], indices[r], scores[m], indices[m]) { m = r }
            if m == p { break }
            indices.swapAt(m, p)
            scores.swapAt(m, p)
            p = m
        }
    }

    /// The kept entries, best first.
    func sorted() -> [(index: Int32, score: Float)] {
        zip(indices, scores).map { (index: $0, score: $1) }.sorted { a, b in Self.below(b.score, b.index, a.score, a.index) }
    }
}
