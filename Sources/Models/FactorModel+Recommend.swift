import Foundation

/// How ``FactorModel/similar(movieID:count:measure:)`` compares movie vectors.
package enum SimilarityMeasure: String, Sendable, CaseIterable {
    /// Cosine of the angle between the vectors (length-independent).
    case cosine
    /// Plain dot product (favours movies with long vectors, i.e. strong latent effects).
    case dot
}

extension FactorModel {
    /// The dense index of a user id, or ``ModelError/unknownUser(_:)``.
    package func userIndex(of id: Int64) throws -> Int {
        guard let u = users[id] else { throw ModelError.unknownUser(id) }
        return Int(u)
    }

    /// The dense index of a movie id, or ``ModelError/unknownMovie(_:)``.
    package func movieIndex(of id: Int64) throws -> Int {
        guard let m = movies[id] else { throw ModelError.unknownMovie(id) }
        return Int(m)
    }

    /// The `count` movies with the highest predicted rating for a known user, best first,
    /// skipping `excluding` (typically what the user already rated; unknown ids there are
    /// ignored). Scores are unclipped predictions `mu + b_u + b_i + p_u . q_i`, so movies
    /// predicted above the top of the scale still rank in order.
    package func recommend(userID: Int64, count: Int, excluding: Set<Int64> = []) throws -> [(movieID: Int64, score: Float)] {
        let u = try userIndex(of: userID)
        let vector = k > 0 ? Array(userFactors[(u * k) ..< ((u + 1) * k)]) : []
        return try recommend(bias: userBias[u], vector: vector, count: count, excluding: excluding)
    }

    /// Recommendations for a user given directly by bias and vector (for example a folded-in
    /// user that is not stored in the model). With a ``ratingHead`` the vector is the user's
    /// embedding, the scores are the head's unclipped outputs and `bias` is not used.
    package func recommend(bias: Float, vector: [Float], count: Int, excluding: Set<Int64> = []) throws -> [(movieID: Int64, score: Float)] {
        guard count >= 0 else { throw ModelError.invalidParameter(name: "count", value: "\(count)", requirement: "zero or positive") }
        guard vector.count == k else {
            throw ModelError.invalidParameter(name: "vector", value: "\(vector.count) entries", requirement: "\(k) entries (the model's k)")
        }
        let movieCount = movies.count
        var scores = [Float](repeating: 0, count: movieCount)
        scoreAllMovies(vector: vector, into: &scores)
        let offset = ratingHead == nil ? globalMean + bias : 0
        var excluded = [Bool](repeating: false, count: movieCount)
        for id in excluding { if let m = movies[id] { excluded[Int(m)] = true } }
        var top = TopNSelector(capacity: count)
        for m in 0..<movieCount where !excluded[m] {
            top.offer(index: Int32(m), score: scores[m] + offset)
        }
        return top.sorted().map { (movieID: movies.ids[Int($0.index)], score: $0.score) }
    }

    /// `scores[m] = movieBias[m] + q_m . vector` for every movie (one `sgemv`); with a
    /// ``ratingHead``, the head's unclipped output for the user embedding `vector`.
    func scoreAllMovies(vector: [Float], into scores: inout [Float]) {
        let movieCount = movies.count
        scores.withUnsafeMutableBufferPointer { out in
            guard let o = out.baseAddress else { return }
            if let ratingHead {
                RatingHeadScorer(head: ratingHead, userFactors: vector, userCount: 1, movieFactors: movieFactors, movieCount: movieCount)
                    .score(users: 0..<1, into: o)
                return
            }
            if k > 0 {
                movieFactors.withUnsafeBufferPointer { q in
                    vector.withUnsafeBufferPointer { x in
                        guard let qb = q.baseAddress, let xb = x.baseAddress else { return }
                        BLAS.gemv(rows: movieCount, columns: k, matrix: qb, vector: xb, result: o)
                    }
                }
            } else {
                o.update(repeating: 0, count: movieCount)
            }
            for m in 0..<movieCount { o[m] += movieBias[m] }
        }
    }

    /// The `count` movies whose vectors are closest to the given movie's, best first,
    /// excluding the movie itself. With `.cosine`, movies with a zero vector score 0.
    package func similar(movieID: Int64, count: Int, measure: SimilarityMeasure = .cosine) throws -> [(movieID: Int64, score: Float)] {
        let target = try movieIndex(of: movieID)
        guard count >= 0 else { throw ModelError.invalidParameter(name: "count", value: "\(count)", requirement: "zero or positive") }
        guard k > 0 else {
            throw ModelError.invalidParameter(name: "k", value: "0", requirement: "positive: a biases-only model has no movie vectors to compare")
        }
        guard kind.hasVectors else {
            throw ModelError.invalidParameter(name: "model kind", value: kind.rawValue, requirement: "a model with movie vectors (ease has none)")
        }
        let movieCount = movies.count
        let vector = Array(movieFactors[(target * k) ..< ((target + 1) * k)])
        var scores = [Float](repeating: 0, count: movieCount)
        movieFactors.withUnsafeBufferPointer { q in
            vector.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { out in
                    guard let qb = q.baseAddress, let xb = x.baseAddress, let o = out.baseAddress else { return }
                    BLAS.gemv(rows: movieCount, columns: k, matrix: qb, vector: xb, result: o)
                }
            }
        }
        if measure == .cosine {
            let norms = movieNorms()
            let own = norms[target]
            for m in 0..<movieCount {
                let d = norms[m] * own
                scores[m] = d > 0 ? scores[m] / d : 0
            }
        }
        var top = TopNSelector(capacity: count)
        for m in 0..<movieCount where m != target { top.offer(index: Int32(m), score: scores[m]) }
        return top.sorted().map { (movieID: movies.ids[Int($0.index)], score: $0.score) }
    }

    /// Euclidean length of every movie vector.
    func movieNorms() -> [Float] {
        var norms = [Float](repeating: 0, count: movies.count)
        movieFactors.withUnsafeBufferPointer { q in
            for m in 0..<movies.count {
                var s: Float = 0
                for d in 0..<k { s += q[m * k + d] * q[m * k + d] }
                norms[m] = s.squareRoot()
            }
        }
        return norms
    }
}
