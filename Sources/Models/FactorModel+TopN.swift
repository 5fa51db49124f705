/// Keeps the `capacity` best (score, index) entries offered, best meaning a higher score, and
/// the lower index on equal scores. Entries must be offered in increasing index order (every
/// caller scans a row of scores), so a newcomer that ties the worst kept score loses.
///
/// Rather than a heap, which sifts on every entry that beats the current N-th best, entries
/// above ``threshold`` are appended to a buffer of about 2N; when it fills, a quickselect
/// keeps the best N and raises the threshold. Over a row of n scores that is O(n) plus a few
/// O(N) selections, and the scan's only work per rejected entry is one comparison. Entries are
/// packed into one `UInt64` whose integer order is the ranking order, so selecting and sorting
/// compare and move single words.
struct TopNSelector {
    let capacity: Int
    /// The buffer of candidate keys; owned by this selector alone (no copy of a selector is
    /// ever used alongside it).
    private let keys: KeyBuffer
    private var count = 0
    /// Scores at or below this cannot enter: -infinity until the buffer first fills, then the
    /// worst kept score.
    private(set) var threshold: Float = -.infinity

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        keys = KeyBuffer(count: self.capacity == 0 ? 0 : max(2 * self.capacity, self.capacity + 64))
    }

    /// Empties the selection; entries must score above `floor` to be kept.
    mutating func reset(above floor: Float = -.infinity) {
        count = 0
        threshold = floor
    }

    /// Whether `capacity` entries passed (so the best `capacity` are among them).
    var isFull: Bool { count >= capacity }

    /// Offers one entry; NaN and -infinity never enter.
    @inline(__always)
    mutating func offer(index: Int32, score: Float) {
        guard score > threshold, capacity > 0 else { return }
        keys.base[count] = Self.key(score: score, index: index)
        count += 1
        if count == keys.count { keepBest() }
    }

    /// The kept entries, best first.
    mutating func sorted() -> [(index: Int32, score: Float)] {
        (0..<finish()).map { entry($0) }
    }

    /// Sorts the kept entries best first and returns how many there are (at most `capacity`);
    /// read them with ``entry(_:)``.
    mutating func finish() -> Int {
        if count > capacity { keepBest() }
        let n = count
        Self.sortDescending(keys.base, 0, n - 1)
        return n
    }

    /// The `i`th kept entry after ``finish()``.
    func entry(_ i: Int) -> (index: Int32, score: Float) { Self.decode(keys.base[i]) }

    /// Keeps the best `capacity` entries at the front and raises the threshold to the worst of them.
    private mutating func keepBest() {
        let n = count, k = capacity
        Self.selectLargest(k, keys.base, n)
        var worst = UInt64.max
        for i in 0..<k { worst = min(worst, keys.base[i]) }
        threshold = Self.decode(worst).score
        count = k
    }

    /// Quickselect: afterwards `keys[0..<k]` are the `k` largest of `keys[0..<n]`, in no
    /// particular order. Keys are unique (indices are).
    private static func selectLargest(_ k: Int, _ keys: UnsafeMutablePointer<UInt64>, _ n: Int) {
        guard k > 0, k < n else { return }
        var lo = 0, hi = n - 1
        while lo < hi {
            let p = partition(keys, lo, hi)
            if p == k || p == k - 1 { return }
            if p > k { hi = p - 1 } else { lo = p + 1 }
        }
    }

    /// Sorts `keys[lo...hi]` largest first: quicksort down to 16 keys, then insertion sort.
    /// In place: Swift's `sort` is a stable merge sort that allocates a buffer per call.
    private static func sortDescending(_ keys: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) {
        var lo = lo, hi = hi
        while hi - lo > 16 {
            let p = partition(keys, lo, hi)
            // Recurse into the smaller side, loop on the larger: stack depth O(log n).
            if p - lo < hi - p {
                sortDescending(keys, lo, p - 1)
                lo = p + 1
            } else {
                sortDescending(keys, p + 1, hi)
                hi = p - 1
            }
        }
        guard lo < hi else { return }
        for i in (lo + 1)...hi {
            let key = keys[i]
            var j = i
            while j > lo, keys[j - 1] < key {
                keys[j] = keys[j - 1]
                j -= 1
            }
            keys[j] = key
        }
    }

    /// Partitions `keys[lo...hi]` around a median-of-three pivot: larger keys before it,
    /// smaller after; returns the pivot's final position. Branch-free (random keys would
    /// mispredict half the branches): every step swaps, and only a key above the pivot
    /// advances `store`.
    @inline(__always)
    private static func partition(_ keys: UnsafeMutablePointer<UInt64>, _ lo: Int, _ hi: Int) -> Int {
        let mid = lo + (hi - lo) / 2
        if keys[mid] > keys[lo] { keys.swapAt(mid, lo) }
        if keys[hi] > keys[lo] { keys.swapAt(hi, lo) }
        if keys[mid] > keys[hi] { keys.swapAt(mid, hi) }
        let pivot = keys[hi]
        var store = lo
        for j in lo..<hi {
            let key = keys[j]
            keys[j] = keys[store]
            keys[store] = key
            store &+= key > pivot ? 1 : 0
        }
        keys.swapAt(store, hi)
        return store
    }

    /// Higher score, then lower index, is a larger key: the score's bits made to order as
    /// unsigned integers above the index's complement. `+ 0` turns -0 into +0 so the two tie.
    @inline(__always)
    private static func key(score: Float, index: Int32) -> UInt64 {
        let bits = (score + 0).bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(ordered) << 32 | UInt64(UInt32.max - UInt32(bitPattern: index))
    }

    @inline(__always)
    private static func decode(_ key: UInt64) -> (index: Int32, score: Float) {
        let ordered = UInt32(truncatingIfNeeded: key >> 32)
        let bits = ordered & 0x8000_0000 != 0 ? ordered & 0x7FFF_FFFF : ~ordered
        return (index: Int32(bitPattern: UInt32.max - UInt32(truncatingIfNeeded: key)), score: Float(bitPattern: bits))
    }
}

/// The selector's key slots, freed with it.
private final class KeyBuffer {
    let base: UnsafeMutablePointer<UInt64>
    let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { base.deallocate() }
}

private extension UnsafeMutablePointer {
    @inline(__always)
    func swapAt(_ a: Int, _ b: Int) { (self[a], self[b]) = (self[b], self[a]) }
}
