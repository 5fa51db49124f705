/// The MovieLens file layouts Latent reads, recognised from the file name.
package enum MovieLensFormat: Sendable, Equatable {
    /// `ratings.csv` / `movies.csv` (latest-small, 20M, 25M, 32M): comma separated with a header
    /// line; movie titles may be quoted; genres `A|B`.
    case csv
    /// `ratings.dat` / `movies.dat` (1M, 10M): `::` separated, no header.
    case dat
    /// `u.data` (tab separated user, item, rating, timestamp; also the `u1.base`-style split
    /// files) and `u.item` (`|` separated, 19 genre flag columns) of ML-100K, latin-1.
    case ml100k
    /// RecBole atomic files: `.inter` and `.item`, tab separated with a typed header
    /// (`user_id:token`, `item_id:token`, `rating:float`, `timestamp:float`, ...).
    case recBole

    /// The format of `path`, judged from its file name.
    package static func detect(path: String) throws -> MovieLensFormat {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let lower = name.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".dat") && lower != "u.data" { return .dat }
        if lower == "u.data" || lower == "u.item" || lower.hasSuffix(".base") || lower.hasSuffix(".test") {
            return .ml100k
        }
        if lower.hasSuffix(".inter") || lower.hasSuffix(".item") { return .recBole }
        throw MovieLensError.unknownFormat(file: path)
    }
}

/// A MovieLens file that could not be read, naming the file, the line and what was wrong.
package enum MovieLensError: Error, CustomStringConvertible, Equatable {
    case unknownFormat(file: String)
    case unreadable(file: String, reason: String)
    case malformed(file: String, line: Int, reason: String)

    package var description: String {
        switch self {
        case .unknownFormat(let file):
            return "\(file): unknown MovieLens format (expected ratings.csv/movies.csv, ratings.dat/movies.dat, "
                + "u.data/u.item or RecBole .inter/.item)"
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .malformed(let file, let line, let reason):
            return "\(file):\(line): \(reason)"
        }
    }
}
