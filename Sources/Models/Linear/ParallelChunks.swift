import Dispatch
import Foundation

/// Splits rows `0..<count` into contiguous chunks of roughly equal cost and runs them on a
/// fixed number of workers. Each worker keeps its own scratch state for all the chunks it
/// processes, so hot loops allocate nothing.
///
/// Chunk boundaries depend only on the costs and `chunkCount`, never on the worker count or
/// on scheduling, so per-chunk results (for example partial sums) combine deterministically.
package struct ParallelChunks: Sendable {
    /// Chunk `c` covers rows `boundaries[c] ..< boundaries[c + 1]`.
    package let boundaries: [Int]

    package var chunkCount: Int { boundaries.count - 1 }

    package func range(_ chunk: Int) -> Range<Int> { boundaries[chunk] ..< boundaries[chunk + 1] }

    /// Balances chunks by `cost(row)` (any non-negative weight, e.g. `n * k^2 + k^3`).
    package init(rowCount: Int, chunkCount requested: Int = 128, cost: (Int) -> Double) {
        guard rowCount > 0 else {
            boundaries = [0, 0]
            return
        }
        let chunks = max(1, min(requested, rowCount))
        var total = 0.0
        for r in 0..<rowCount { total += cost(r) }
        var bounds = [0]
        bounds.reserveCapacity(chunks + 1)
        var running = 0.0
        var next = 1
        for r in 0..<rowCount {
            running += cost(r)
            if next < chunks, running >= total * Double(next) / Double(chunks), r + 1 < rowCount {
                bounds.append(r + 1)
                next += 1
            }
        }
        bounds.append(rowCount)
        boundaries = bounds
    }

    /// Runs `body(worker, chunk)` for every chunk, on `workers` threads pulling chunks from a
    /// shared counter. `makeScratch` runs once per worker.
    package func run<Scratch>(
        workers: Int,
        makeScratch: @Sendable () -> Scratch,
        _ body: @Sendable (inout Scratch, _ chunk: Int, _ rows: Range<Int>) -> Void
    ) {
        let counter = ChunkCounter()
        let workerCount = max(1, min(workers, chunkCount))
        if workerCount == 1 {
            var scratch = makeScratch()
            for chunk in 0..<chunkCount { body(&scratch, chunk, range(chunk)) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workerCount) { _ in
            var scratch = makeScratch()
            while true {
                let chunk = counter.next()
                guard chunk < chunkCount else { break }
                body(&scratch, chunk, range(chunk))
            }
        }
    }
}

/// A lock-protected counter handing out chunk numbers. `@unchecked Sendable`: the only
/// mutable state is guarded by `lock`.
private final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}

/// A raw pointer shared by parallel workers that write disjoint parts of one buffer.
/// `@unchecked Sendable`: callers guarantee the writes do not overlap and the buffer outlives
/// the parallel section.
package struct SharedPointer<T>: @unchecked Sendable {
    package let base: UnsafeMutablePointer<T>
    package init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}
