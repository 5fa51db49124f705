/// The dense steps of an EASE fit on one `n x n` buffer: the Gram matrix, then the weights
/// from its inverse, in place (one movies² buffer in all, besides the user rows).
enum EASEGram {
    /// `c`'s upper triangle (column-major) = `X^T X` for the row-major `users x movies` rows,
    /// by one `ssyrk` on `threads` OpenBLAS threads. The rows are dense already (they are the
    /// model's user side), so there are no blocks to gather.
    static func accumulate(rows: [Float], userCount: Int, movieCount: Int, into c: UnsafeMutablePointer<Float>, threads: Int) {
        rows.withUnsafeBufferPointer { x in
            guard let base = x.baseAddress else { return }
            BLAS.withThreadCount(threads) {
                BLAS.gramUpper(vectors: base, count: userCount, dimension: movieCount, result: c)
            }
        }
    }

    /// Turns `p`, holding `P = G^-1` in its upper triangle (column-major, so the lower one
    /// when read row-major), into the row-major `B^T`: row `m` is `-P[m, :] / P[m, m]` with a
    /// zero at `m`. First mirrors the triangle (in tiles, so the strided reads stay in
    /// cache), then scales each row: two passes, each split over `threads` workers.
    static func weightsFromInverse(_ p: UnsafeMutablePointer<Float>, order n: Int, threads: Int) {
        guard n > 0 else { return }
        let shared = SharedPointer(p)
        let tile = 64
        let tiles = (n + tile - 1) / tile
        // Pass 1: row tile t writes its entries right of the diagonal, reading only entries
        // left of it, which no worker writes.
        ParallelChunks(rowCount: tiles, chunkCount: tiles) { Double(tiles - $0) }.run(workers: threads, makeScratch: { () }) { _, _, range in
            let p = shared.base
            for t in range {
                let rows = (t * tile) ..< min((t + 1) * tile, n)
                var columnStart = t * tile
                while columnStart < n {
                    let columnEnd = min(columnStart + tile, n)
                    for r in rows {
                        for c in max(columnStart, r + 1) ..< max(columnEnd, r + 1) { p[r * n + c] = p[c * n + r] }
                    }
                    columnStart = columnEnd
                }
            }
        }
        // Pass 2: every row on its own.
        ParallelChunks(rowCount: n, chunkCount: min(n, 64)) { _ in 1 }.run(workers: threads, makeScratch: { () }) { _, _, range in
            let p = shared.base
            for r in range {
                let row = p + r * n
                let scale = -1 / row[r]
                for c in 0..<n { row[c] *= scale }
                row[r] = 0
            }
        }
    }
}
