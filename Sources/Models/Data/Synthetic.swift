import Dispatch
import Foundation

/// A synthetic ratings data set in MovieLens CSV form (`ratings.csv` + `movies.csv`), for
/// benchmarks at sizes real MovieLens cannot be shipped at.
///
/// The generative model: power-law (Zipf) user activity and movie popularity; a rating is
/// `mean + b_u + b_i + genre effect + p_u . q_i + noise`, rounded to the half-star scale
/// 0.5...5. Each movie has one to three genres; the genre effect is the mean of the movie's
/// genre offsets plus the user's affinity for those genres. Every value comes from the seed:
/// the same configuration writes byte-identical files whatever the core count.
package enum Synthetic {
    package struct Configuration: Sendable, Equatable {
        package var ratings = 1_000_000
        package var users = 6_000
        package var movies = 4_000
        /// Rank of the planted structure.
        package var rank = 8
        /// Zipf exponents of user activity and movie popularity.
        package var userActivityExponent = 0.8
        package var moviePopularityExponent = 0.9
        /// Standard deviation of the rating noise (before rounding).
        package var noise = 0.6
        package var seed: UInt64 = 42

        /// Every default; set the fields to change them.
        package init() {}

        package func validate() throws {
            try ParameterCheck.integer("users", users, atLeast: 1)
            try ParameterCheck.integer("movies", movies, atLeast: 2)
            // Each user rates at most half the catalogue (distinct movies by rejection sampling).
            try ParameterCheck.integer("ratings", ratings, atLeast: 1)
            try ParameterCheck.require(ratings <= users * (movies / 2), "ratings", ratings,
                                       "at most users x movies / 2 = \(users * (movies / 2)) (each user rates distinct movies)")
            try ParameterCheck.integer("rank", rank, in: 0...256)
            try ParameterCheck.real("userActivityExponent", userActivityExponent, in: .closed(0, 3))
            try ParameterCheck.real("moviePopularityExponent", moviePopularityExponent, in: .closed(0, 3))
            try ParameterCheck.nonNegative("noise", noise)
        }
    }

    /// The genre names used (MovieLens's).
    package static let genreNames = [
        "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ]

    /// Writes `ratings.csv` and `movies.csv` into `folder` (created when missing) and returns
    /// their paths. Streams: memory holds the movie model and a few chunks of text, never
    /// all ratings.
    @discardableResult
    package static func write(_ configuration: Configuration, to folder: String) throws -> (ratings: String, movies: String) {
        try configuration.validate()
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ModelError.io(path: folder, reason: "\(error)")
        }
        let world = SyntheticWorld(configuration)
        let moviesPath = folder + "/movies.csv"
        let ratingsPath = folder + "/ratings.csv"
        try writeMovies(world, to: moviesPath)
        try writeRatings(world, to: ratingsPath)
        return (ratingsPath, moviesPath)
    }

    private static func writeMovies(_ world: SyntheticWorld, to path: String) throws {
        var text = "movieId,title,genres\n"
        text.reserveCapacity(world.movieCount * 48)
        for m in 0..<world.movieCount {
            let genres = world.genres(of: m).map { genreNames[Int($0)] }.joined(separator: "|")
            let year = 1930 + Int(world.movieYear[m])
            // Every 10th title has a comma, so readers must honour the quoting.
            let title = m % 10 == 0 ? "\"Synthetic Movie \(world.movieIDs[m]), The (\(year))\"" : "Synthetic Movie \(world.movieIDs[m]) (\(year))"
            text += "\(world.movieIDs[m]),\(title),\(genres)\n"
        }
        guard fm_write(text, to: path) else { throw ModelError.io(path: path, reason: "cannot write") }
    }

    private static func fm_write(_ text: String, to path: String) -> Bool {
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }

    private static func writeRatings(_ world: SyntheticWorld, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data("userId,movieId,rating,timestamp\n".utf8)),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ModelError.io(path: path, reason: "cannot create the file")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        // Users in fixed chunks; each chunk's text depends only on the seed and the chunk.
        let chunkUsers = max(1, min(2_000, world.userCount))
        let chunkCount = (world.userCount + chunkUsers - 1) / chunkUsers
        let wave = 8
        var next = 0
        while next < chunkCount {
            let upper = min(next + wave, chunkCount)
            let texts = SyntheticBuffers(count: upper - next)
            let base = next
            DispatchQueue.concurrentPerform(iterations: upper - next) { i in
                let c = base + i
                texts.set(i, world.ratingsText(users: (c * chunkUsers) ..< min((c + 1) * chunkUsers, world.userCount)))
            }
            for i in 0..<(upper - next) {
                do { try handle.write(contentsOf: texts.get(i)) } catch {
                    throw ModelError.io(path: path, reason: "\(error)")
                }
            }
            next = upper
        }
    }
}

/// Output slots for parallel chunk generation. `@unchecked Sendable`: each worker writes only
/// its own slot, under a lock.
private final class SyntheticBuffers: @unchecked Sendable {
    private var slots: [Data]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: Data(), count: count) }
    func set(_ i: Int, _ d: Data) { lock.lock(); slots[i] = d; lock.unlock() }
    func get(_ i: Int) -> Data { lock.lock(); defer { lock.unlock() }; return slots[i] }
}

/// The fixed part of the generative model: movies, their popularity, factors and genres.
struct SyntheticWorld: Sendable {
    let configuration: Synthetic.Configuration
    let userCount: Int
    let movieCount: Int
    let rank: Int
    /// External movie id of each movie (popularity order shuffled into ids).
    let movieIDs: [Int64]
    let movieBias: [Float]
    let movieFactors: [Float]
    let movieYear: [UInt8]
    let genreOffsets: [Int]
    let genreList: [UInt8]
    let genreEffect: [Float]
    /// Walker alias table over movies by popularity.
    let aliasProbability: [Float]
    let aliasIndex: [Int32]
    /// Ratings per user (sums to `configuration.ratings`).
    let userCounts: [Int]

    init(_ c: Synthetic.Configuration) {
        configuration = c
        userCount = c.users
        movieCount = c.movies
        rank = c.rank
        var rng = SeededRandom(seed: c.seed)
        var ids = (0..<c.movies).map { Int64($0 + 1) }
        rng.shuffle(&ids)
        movieIDs = ids
        movieBias = (0..<c.movies).map { _ in Float(rng.nextGaussian() * 0.35) }
        let factorScale = c.rank > 0 ? Float((0.45 / Double(c.rank)).squareRoot()) : 0
        movieFactors = (0..<(c.movies * c.rank)).map { _ in Float(rng.nextGaussian()) * factorScale.squareRoot() * 1.0 }
        movieYear = (0..<c.movies).map { _ in UInt8(rng.nextInt(below: 90)) }
        var offsets = [0], list: [UInt8] = []
        let genreCount = Synthetic.genreNames.count
        for _ in 0..<c.movies {
            let n = 1 + rng.nextInt(below: 3)
            var chosen: [UInt8] = []
            while chosen.count < n {
                let g = UInt8(rng.nextInt(below: genreCount))
                if !chosen.contains(g) { chosen.append(g) }
            }
            list.append(contentsOf: chosen.sorted())
            offsets.append(list.count)
        }
        genreOffsets = offsets
        genreList = list
        genreEffect = (0..<genreCount).map { _ in Float(rng.nextGaussian() * 0.25) }
        // Popularity: Zipf over movie ranks.
        let weights = (0..<c.movies).map { pow(Double($0 + 1), -c.moviePopularityExponent) }
        (aliasProbability, aliasIndex) = Self.aliasTable(weights)
        // Activity: Zipf over user ranks, scaled to the total, each between 1 and movies / 2.
        let cap = max(1, c.movies / 2)
        var activity = (0..<c.users).map { pow(Double($0 + 1), -c.userActivityExponent) }
        rng.shuffle(&activity)
        let total = activity.reduce(0, +)
        var counts = activity.map { max(1, min(cap, Int(Double(c.ratings) * $0 / total))) }
        // Settle the exact total: add or remove one rating at a time round-robin.
        var diff = c.ratings - counts.reduce(0, +)
        var i = 0
        while diff != 0 {
            let u = i % c.users
            if diff > 0, counts[u] < cap { counts[u] += 1; diff -= 1 }
            else if diff < 0, counts[u] > 1 { counts[u] -= 1; diff += 1 }
            i += 1
        }
        userCounts = counts
    }

    func genres(of m: Int) -> ArraySlice<UInt8> { genreList[genreOffsets[m] ..< genreOffsets[m + 1]] }

    static func aliasTable(_ weights: [Double]) -> ([Float], [Int32]) {
        let n = weights.count
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * Double(n) / total }
        var probability = [Float](repeating: 1, count: n)
        var alias = [Int32](repeating: 0, count: n)
        var small: [Int] = [], large: [Int] = []
        for i in 0..<n { if scaled[i] < 1 { small.append(i) } else { large.append(i) } }
        while let s = small.popLast(), let l = large.last {
            probability[s] = Float(scaled[s])
            alias[s] = Int32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 { large.removeLast(); small.append(l) }
        }
        for i in 0..<n { alias[i] = alias[i] == 0 && probability[i] == 1 ? Int32(i) : alias[i] }
        return (probability, alias)
    }

    /// CSV lines of the ratings of `users` (ids `u + 1`), each user's movies distinct.
    func ratingsText(users: Range<Int>) -> Data {
        var out = [UInt8]()
        out.reserveCapacity(users.reduce(0) { $0 + userCounts[$1] } * 26)
        var stamp = [Int32](repeating: -1, count: movieCount)
        var userFactors = [Float](repeating: 0, count: rank)
        var affinity = [Float](repeating: 0, count: Synthetic.genreNames.count)
        let c = configuration
        let factorScale = rank > 0 ? Float((0.45 / Double(rank)).squareRoot()) : 0
        for u in users {
            var rng = SeededRandom(seed: c.seed ^ (UInt64(u) &* 0x9E37_79B9_7F4A_7C15) ^ 0xABCD)
            let bias = Float(rng.nextGaussian() * 0.3)
            for f in 0..<rank { userFactors[f] = Float(rng.nextGaussian()) * factorScale.squareRoot() }
            for g in 0..<affinity.count { affinity[g] = Float(rng.nextGaussian() * 0.15) }
            var time = Int64(1_000_000_000 + rng.nextInt(below: 600_000_000))
            var written = 0
            while written < userCounts[u] {
                let column = rng.nextInt(below: movieCount)
                let m = Float(rng.nextDouble()) < aliasProbability[column] ? column : Int(aliasIndex[column])
                if stamp[m] == Int32(u) { continue }
                stamp[m] = Int32(u)
                written += 1
                var r: Float = 3.5 + bias + movieBias[m]
                let genres = self.genres(of: m)
                var genre: Float = 0
                for g in genres { genre += genreEffect[Int(g)] + affinity[Int(g)] }
                r += genre / Float(genres.count)
                for f in 0..<rank { r += userFactors[f] * movieFactors[m * rank + f] }
                r += Float(rng.nextGaussian() * c.noise)
                let halfStars = min(max(Int((r * 2).rounded()), 1), 10)
                time += Int64(1 + rng.nextInt(below: 5_000))
                appendNumber(Int64(u + 1), to: &out)
                out.append(UInt8(ascii: ","))
                appendNumber(movieIDs[m], to: &out)
                out.append(UInt8(ascii: ","))
                appendNumber(Int64(halfStars / 2), to: &out)
                out.append(UInt8(ascii: "."))
                out.append(halfStars % 2 == 0 ? UInt8(ascii: "0") : UInt8(ascii: "5"))
                out.append(UInt8(ascii: ","))
                appendNumber(time, to: &out)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return Data(out)
    }

    @inline(__always)
    private func appendNumber(_ value: Int64, to out: inout [UInt8]) {
        var v = value
        if v == 0 { out.append(UInt8(ascii: "0")); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 { d[n] = UInt8(48 + v % 10); v /= 10; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }
}
