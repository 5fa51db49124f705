import Records

/// Readers for the MovieLens files (see ``MovieLensFormat``): a streaming ratings reader that
/// parses bytes in large chunks, a catalogue reader, and a one-call dataset loader.
public enum MovieLens {
    /// Calls `body` with every rating of the ratings file at `path`, in file order.
    ///
    /// Streams: memory use does not grow with the file. Throws ``MovieLensError`` naming the
    /// line for a missing field, a value that is not a number, or a NaN/infinite rating.
    public static func forEachRating(in path: String, _ body: (RatingRecord) throws -> Void) throws {
        let format = try MovieLensFormat.detect(path: path)
        var fields = LineFields(format: format)
        defer { fields.deallocate() }
        // Column positions of user, movie, rating, timestamp (-1: absent).
        var columns = (user: 0, movie: 1, rating: 2, time: 3)
        var sawFirstLine = false

        try MovieLensLines.forEachLine(in: path) { line, lineNumber in
            guard let base = line.baseAddress, line.count > 0 else { return }
            fields.split(base, count: line.count)
            if !sawFirstLine {
                sawFirstLine = true
                let first = base[0]
                let isHeader = format == .recBole || !(first &- 48 < 10 || first == UInt8(ascii: "-"))
                if isHeader {
                    columns = try ratingColumns(
                        header: (0..<fields.stored).map { fields.text($0, of: base) }, path: path, line: lineNumber)
                    return
                }
            }
            try body(try rating(fields, of: base, columns: columns, path: path, line: lineNumber))
        }
    }

    /// The rating on one split line: user, movie and rating required, the timestamp when the
    /// file has that column (0 otherwise).
    private static func rating(
        _ fields: LineFields, of base: UnsafePointer<UInt8>, columns: (user: Int, movie: Int, rating: Int, time: Int),
        path: String, line: Int
    ) throws -> RatingRecord {
        func field(_ c: Int, _ name: String) throws -> (UnsafePointer<UInt8>, Int) {
            guard c < fields.stored else {
                throw MovieLensError.malformed(file: path, line: line, reason: "missing field \(name) (found \(fields.count) fields)")
            }
            return fields.bytes(c, of: base)
        }
        let (up, un) = try field(columns.user, "user id")
        guard let user = MovieLensBytes.parseInt(up, un) else { throw bad(path, line, "user id", up, un) }
        let (mp, mn) = try field(columns.movie, "movie id")
        guard let movie = MovieLensBytes.parseInt(mp, mn) else { throw bad(path, line, "movie id", mp, mn) }
        let (rp, rn) = try field(columns.rating, "rating")
        guard let rating = MovieLensBytes.parseFloat(rp, rn) else { throw bad(path, line, "rating", rp, rn) }
        guard rating.isFinite else {
            throw MovieLensError.malformed(file: path, line: line, reason: "rating is not a finite number: '\(MovieLensBytes.text(rp, rn))'")
        }
        var timestamp: Int64 = 0
        if columns.time >= 0 {
            let (tp, tn) = try field(columns.time, "timestamp")
            guard let t = MovieLensBytes.parseInt(tp, tn) else { throw bad(path, line, "timestamp", tp, tn) }
            timestamp = t
        }
        return RatingRecord(userID: user, movieID: movie, rating: rating, timestamp: timestamp)
    }

    /// The field boundaries of one line, split at the format's separator (`::` for `.dat`);
    /// the first 16 fields are kept, all are counted. Reused line after line: no allocation
    /// per line. Call ``deallocate()`` when done.
    private struct LineFields {
        static let capacity = 16
        let separator: UInt8
        /// `.dat` separates fields with two separator bytes.
        let doubled: Bool
        let starts = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
        let ends = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
        /// Fields on the line.
        private(set) var count = 0

        init(format: MovieLensFormat) {
            switch format {
            case .csv: separator = UInt8(ascii: ",")
            case .dat: separator = UInt8(ascii: ":")
            case .ml100k, .recBole: separator = UInt8(ascii: "\t")
            }
            doubled = format == .dat
        }

        /// Fields whose boundaries are kept.
        var stored: Int { min(count, Self.capacity) }

        func deallocate() {
            starts.deallocate()
            ends.deallocate()
        }

        /// Finds the fields of the `n` bytes at `base`.
        mutating func split(_ base: UnsafePointer<UInt8>, count n: Int) {
            var fieldCount = 0
            var fieldStart = 0
            var i = 0
            while i < n {
                if base[i] == separator {
                    if doubled {
                        guard i + 1 < n, base[i + 1] == separator else { i += 1; continue }
                    }
                    if fieldCount < Self.capacity {
                        starts[fieldCount] = fieldStart
                        ends[fieldCount] = i
                    }
                    fieldCount += 1
                    i += doubled ? 2 : 1
                    fieldStart = i
                } else {
                    i += 1
                }
            }
            if fieldCount < Self.capacity {
                starts[fieldCount] = fieldStart
                ends[fieldCount] = n
            }
            count = fieldCount + 1
        }

        /// Field `c`'s bytes on the line at `base`.
        func bytes(_ c: Int, of base: UnsafePointer<UInt8>) -> (UnsafePointer<UInt8>, Int) {
            (base + starts[c], ends[c] - starts[c])
        }

        /// Field `c` as text.
        func text(_ c: Int, of base: UnsafePointer<UInt8>) -> String {
            MovieLensBytes.text(base + starts[c], ends[c] - starts[c])
        }
    }

    private static func bad(_ path: String, _ line: Int, _ what: String, _ p: UnsafePointer<UInt8>, _ n: Int) -> MovieLensError {
        let shown = n == 0 ? "empty" : "'\(MovieLensBytes.text(p, min(n, 40)))'"
        return .malformed(file: path, line: line, reason: "\(what) is not a number: \(shown)")
    }

    /// Maps header names (`userId`, `user_id:token`, ...) to column positions.
    private static func ratingColumns(header: [String], path: String, line: Int) throws
        -> (user: Int, movie: Int, rating: Int, time: Int)
    {
        func find(_ names: [String]) -> Int? {
            header.firstIndex { column in
                let bare = column.split(separator: ":").first.map(String.init) ?? column
                return names.contains(bare.lowercased().trimmingSpaces())
            }
        }
        guard let user = find(["userid", "user_id", "user"]),
            let movie = find(["movieid", "movie_id", "item_id", "itemid", "item"]),
            let rating = find(["rating"])
        else {
            throw MovieLensError.malformed(
                file: path, line: line,
                reason: "header must name user, movie and rating columns; found \(header)")
        }
        let time = find(["timestamp", "ts", "time"]) ?? -1
        return (user, movie, rating, time)
    }

    /// Reads the movie catalogue at `path` (movies.csv, movies.dat, u.item or a RecBole .item).
    public static func readMovies(in path: String) throws -> [MovieRecord] {
        let format = try MovieLensFormat.detect(path: path)
        let text = try MovieLensLines.readText(path)
        var movies: [MovieRecord] = []
        var lineNumber = 0
        var header: [String]? = nil
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            switch format {
            case .csv:
                let fields = try csvFields(String(line), path: path, line: lineNumber)
                if lineNumber == 1, let first = fields.first, Int64(first) == nil { continue }  // header
                guard fields.count >= 3 else {
                    throw MovieLensError.malformed(
                        file: path, line: lineNumber, reason: "expected movieId,title,genres; found \(fields.count) fields")
                }
                let id = try movieID(fields[0], path: path, line: lineNumber)
                movies.append(MovieRecord(movieID: id, title: fields[1], genres: splitGenres(fields[2], by: "|")))
            case .dat:
                let fields = splitDoubleColon(line)
                guard fields.count >= 3 else {
                    throw MovieLensError.malformed(
                        file: path, line: lineNumber, reason: "expected MovieID::Title::Genres; found \(fields.count) fields")
                }
                let id = try movieID(fields[0], path: path, line: lineNumber)
                movies.append(MovieRecord(movieID: id, title: fields[1], genres: splitGenres(fields[2], by: "|")))
            case .ml100k:
                let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard fields.count >= 5 + ml100kGenres.count else {
                    throw MovieLensError.malformed(
                        file: path, line: lineNumber,
                        reason: "expected id|title|date|video date|url and 19 genre flags; found \(fields.count) fields")
                }
                let id = try movieID(fields[0], path: path, line: lineNumber)
                var genres: [String] = []
                for (g, name) in ml100kGenres.enumerated() {
                    let flag = fields[5 + g].trimmingSpaces()
                    if flag == "1" {
                        genres.append(name)
                    } else if flag != "0" {
                        throw MovieLensError.malformed(
                            file: path, line: lineNumber, reason: "genre flag \(name) must be 0 or 1, found '\(flag)'")
                    }
                }
                movies.append(MovieRecord(movieID: id, title: fields[1], genres: genres))
            case .recBole:
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard let columns = header else {
                    header = fields.map { ($0.split(separator: ":").first.map(String.init) ?? $0).lowercased() }
                    guard header?.contains("item_id") == true else {
                        throw MovieLensError.malformed(
                            file: path, line: lineNumber, reason: "RecBole .item header needs an item_id:token column")
                    }
                    continue
                }
                func value(_ name: String) -> String? {
                    guard let c = columns.firstIndex(of: name), c < fields.count else { return nil }
                    return fields[c]
                }
                guard let idText = value("item_id") else {
                    throw MovieLensError.malformed(file: path, line: lineNumber, reason: "missing field item_id")
                }
                let id = try movieID(idText, path: path, line: lineNumber)
                var title = value("movie_title") ?? value("title") ?? ""
                if let year = value("release_year"), !year.isEmpty { title += " (\(year))" }
                let genres = splitGenres(value("class") ?? value("genre") ?? "", by: " ")
                movies.append(MovieRecord(movieID: id, title: title, genres: genres))
            }
        }
        return movies
    }

    /// ML-100K's genre columns, in the order of u.genre.
    public static let ml100kGenres = [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
        "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
        "War", "Western",
    ]

    /// Reads a ratings file and, when given, a catalogue into a ``Dataset``. Movies listed only
    /// in the catalogue are included (they have no ratings: cold-start items).
    public static func loadDataset(ratings: String, movies: String?) throws -> Dataset {
        var builder = DatasetBuilder()
        if let movies {
            for movie in try readMovies(in: movies) { builder.add(movie) }
        }
        try forEachRating(in: ratings) { builder.add($0) }
        return builder.build()
    }

    private static func movieID<S: StringProtocol>(_ text: S, path: String, line: Int) throws -> Int64 {
        guard let id = Int64(text.trimmingSpaces()) else {
            throw MovieLensError.malformed(file: path, line: line, reason: "movie id is not an integer: '\(text)'")
        }
        return id
    }

    private static func splitDoubleColon(_ line: Substring) -> [String] {
        var fields: [String] = []
        var rest = line[...]
        while let r = rest.firstRange(of: "::") {
            fields.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        fields.append(String(rest))
        return fields
    }

    private static func splitGenres(_ text: String, by separator: Character) -> [String] {
        text.split(separator: separator).map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
    }

    /// Splits one CSV line: quoted fields may hold commas and `""` escapes.
    static func csvFields(_ line: String, path: String, line lineNumber: Int) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var inQuotes = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            current.append("\"")
                        } else {
                            inQuotes = false
                            pending = next
                        }
                    } else {
                        inQuotes = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "," {
                fields.append(current)
                current = ""
            } else if c == "\"" && current.isEmpty {
                inQuotes = true
            } else {
                current.append(c)
            }
        }
        if inQuotes {
            throw MovieLensError.malformed(file: path, line: lineNumber, reason: "unterminated quoted field")
        }
        fields.append(current)
        return fields
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
