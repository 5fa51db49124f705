import Foundation

/// Saving and loading a ``FactorModel``.
///
/// File format, version 3 (all integers and floats little-endian, floats IEEE-754 binary32);
/// version 1 is the same without flag bits 1 and 2, version 2 without flag bit 2; a model is
/// written with the lowest version that holds it, so older builds keep reading those:
///
///     offset  size  field
///     0       8     magic, the ASCII bytes "LATENTM1"
///     8       4     u32 format version (1; 2 when flag bit 1 is set; 3 when flag bit 2 is)
///     12      4     u32 k
///     16      8     u64 userCount   (U)
///     24      8     u64 movieCount  (M)
///     32      8     u64 genreCount  (G)
///     40      4     f32 globalMean
///     44      4     f32 rating scale lower bound
///     48      4     f32 rating scale upper bound
///     52      4     u32 flags (bit 0: genre factors present; bit 1: neural encoder present;
///                   bit 2: rating head present)
///     56      ...   string kind                (string = u32 byte length + UTF-8 bytes)
///             4     u32 parameter count P, then P pairs (string key, string value), keys sorted
///             ...   G strings: genre names
///             8U    i64 user ids, by dense index
///             8M    i64 movie ids, by dense index
///             4U    f32 user biases
///             4M    f32 movie biases
///             4Uk   f32 user factors, row-major U x k
///             4Mk   f32 movie factors, row-major M x k
///             4Gk   f32 genre factors, row-major G x k (only when flag bit 0 is set)
///             ...   the neural encoder (only when flag bit 1 is set, version 2):
///                   f32 liked threshold, u32 layer count L, then per layer u32 inputs I,
///                   u32 outputs O, 4IO f32 weights row-major I x O, 4O f32 biases; the first
///                   layer's I is M and the last layer's O is k
///             ...   the rating head (only when flag bit 2 is set, version 3): u32 layer
///                   count 4, then the layers as above; the first I is 2k, the last O is 1
///     end-8   8     u64 FNV-1a-64 checksum of every preceding byte
///
/// Loading validates the magic, version, every length against the file size, duplicate ids,
/// the checksum and that nothing follows the last field; any violation is a
/// ``ModelError/corruptFile(path:reason:)`` naming the problem.
extension FactorModel {
    static let fileMagic: [UInt8] = Array("LATENTM1".utf8)
    /// The newest version this build writes and reads.
    static let fileVersion: UInt32 = 3

    /// Writes the model to `path` (atomically: a reader never sees a half-written file).
    package func save(to path: String) throws {
        let bytes = serialized()
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelError.io(path: path, reason: error.localizedDescription)
        }
    }

    /// Reads a model written by ``save(to:)``.
    package static func load(from path: String) throws -> FactorModel {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ModelError.io(path: path, reason: error.localizedDescription)
        }
        do {
            return try deserialize([UInt8](data))
        } catch let reason as FormatProblem {
            throw ModelError.corruptFile(path: path, reason: reason.text)
        }
    }

    /// The file contents as bytes.
    package func serialized() -> [UInt8] {
        var w = ByteWriter()
        let hasGenres = !genreFactors.isEmpty
        w.bytes.append(contentsOf: Self.fileMagic)
        w.u32(ratingHead != nil ? 3 : encoder != nil ? 2 : 1)
        w.u32(UInt32(k))
        w.u64(UInt64(users.count))
        w.u64(UInt64(movies.count))
        w.u64(UInt64(genreNames.count))
        w.f32(globalMean)
        w.f32(ratingScale.lowerBound)
        w.f32(ratingScale.upperBound)
        w.u32((hasGenres ? 1 : 0) | (encoder == nil ? 0 : 2) | (ratingHead == nil ? 0 : 4))
        w.string(kind.rawValue)
        w.u32(UInt32(parameters.count))
        for key in parameters.keys.sorted() {
            w.string(key)
            w.string(parameters[key] ?? "")
        }
        for name in genreNames { w.string(name) }
        w.bytes.reserveCapacity(w.bytes.count + 16 * (users.count + movies.count) + 4 * (userFactors.count + movieFactors.count + genreFactors.count) + 8)
        for id in users.ids { w.u64(UInt64(bitPattern: id)) }
        for id in movies.ids { w.u64(UInt64(bitPattern: id)) }
        w.floats(userBias)
        w.floats(movieBias)
        w.floats(userFactors)
        w.floats(movieFactors)
        if hasGenres { w.floats(genreFactors) }
        encoder?.write(to: &w)
        ratingHead?.write(to: &w)
        w.u64(fnv1a(w.bytes))
        return w.bytes
    }

    /// Parses file contents; throws ``ModelError/corruptFile(path:reason:)`` with path "<bytes>".
    package static func deserialize(bytes: [UInt8]) throws -> FactorModel {
        do {
            return try deserialize(bytes)
        } catch let reason as FormatProblem {
            throw ModelError.corruptFile(path: "<bytes>", reason: reason.text)
        }
    }

    private static func deserialize(_ bytes: [UInt8]) throws -> FactorModel {
        guard bytes.count >= 56 + 8 else { throw FormatProblem("truncated: \(bytes.count) bytes is shorter than the fixed header") }
        guard Array(bytes[0..<8]) == fileMagic else { throw FormatProblem("bad magic (expected \"LATENTM1\")") }
        let body = bytes.count - 8
        var checksumReader = ByteReader(bytes: bytes, position: body, end: bytes.count)
        let stored = try checksumReader.u64()
        var r = ByteReader(bytes: bytes, position: 8, end: body)
        let version = try r.u32()
        guard (1...fileVersion).contains(version) else { throw FormatProblem("unsupported format version \(version) (this build reads versions 1 to \(fileVersion))") }
        guard fnv1a(bytes[0..<body]) == stored else { throw FormatProblem("checksum mismatch: the file is corrupt or truncated") }
        let k = Int(try r.u32())
        let userCount = try r.count(bytesEach: 12 + 4 * k, what: "user count")
        let movieCount = try r.count(bytesEach: 12 + 4 * k, what: "movie count")
        let genreCount = try r.count(bytesEach: 4, what: "genre count")
        let globalMean = try r.f32()
        let lower = try r.f32(), upper = try r.f32()
        guard lower.isFinite, upper.isFinite, lower <= upper else { throw FormatProblem("invalid rating scale \(lower)...\(upper)") }
        let flags = try r.u32()
        guard flags & ~7 == 0, version >= 2 || flags & 2 == 0, version >= 3 || flags & 4 == 0 else { throw FormatProblem("unknown flags \(flags) for format version \(version)") }
        let kindName = try r.string()
        guard let kind = ModelKind(rawValue: kindName) else { throw FormatProblem("unknown model kind \"\(kindName)\"") }
        let parameterCount = Int(try r.u32())
        guard parameterCount <= r.remaining / 8 else { throw FormatProblem("parameter count \(parameterCount) does not fit in the file") }
        var parameters: [String: String] = [:]
        for _ in 0..<parameterCount {
            let key = try r.string()
            parameters[key] = try r.string()
        }
        var genreNames: [String] = []
        for _ in 0..<genreCount { genreNames.append(try r.string()) }
        let userIDs = try r.i64s(userCount)
        let movieIDs = try r.i64s(movieCount)
        let users = IDIndex(ids: userIDs)
        guard users.count == userCount else { throw FormatProblem("duplicate user ids") }
        let movies = IDIndex(ids: movieIDs)
        guard movies.count == movieCount else { throw FormatProblem("duplicate movie ids") }
        let userBias = try r.floats(userCount)
        let movieBias = try r.floats(movieCount)
        let userFactors = try r.floats(userCount * k)
        let movieFactors = try r.floats(movieCount * k)
        let genreFactors = flags & 1 != 0 ? try r.floats(genreCount * k) : []
        let encoder = flags & 2 != 0 ? try NeuralEncoder.read(from: &r, movieCount: movieCount, dimension: k) : nil
        let ratingHead = flags & 4 != 0 ? try RatingHead.read(from: &r, dimension: k) : nil
        guard r.position == body else { throw FormatProblem("\(body - r.position) unexpected bytes after the last field") }
        return FactorModel(
            kind: kind, k: k, globalMean: globalMean, userBias: userBias, movieBias: movieBias,
            userFactors: userFactors, movieFactors: movieFactors, genreFactors: genreFactors,
            users: users, movies: movies, genreNames: genreNames, ratingScale: lower...upper,
            parameters: parameters, encoder: encoder, ratingHead: ratingHead)
    }
}

struct FormatProblem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

private func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        hash ^= UInt64(b)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func floats(_ values: [Float]) {
        for v in values { u32(v.bitPattern) }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position: Int
    let end: Int

    var remaining: Int { end - position }

    mutating func take(_ n: Int) throws -> Range<Int> {
        guard n >= 0, n <= remaining else { throw FormatProblem("truncated: needed \(n) more bytes at offset \(position), \(remaining) left") }
        defer { position += n }
        return position ..< position + n
    }

    mutating func u32() throws -> UInt32 {
        let r = try take(4)
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(bytes[r.lowerBound + i]) }
        return v
    }

    mutating func u64() throws -> UInt64 {
        let r = try take(8)
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(bytes[r.lowerBound + i]) }
        return v
    }

    mutating func f32() throws -> Float { Float(bitPattern: try u32()) }

    /// A u64 count, rejected when the file cannot hold that many items of `bytesEach` bytes.
    mutating func count(bytesEach: Int, what: String) throws -> Int {
        let v = try u64()
        guard v <= UInt64(remaining / max(bytesEach, 1)) else { throw FormatProblem("\(what) \(v) does not fit in the file") }
        return Int(v)
    }

    mutating func string() throws -> String {
        let n = Int(try u32())
        let r = try take(n)
        guard let s = String(validating: bytes[r], as: UTF8.self) else { throw FormatProblem("invalid UTF-8 in a string at offset \(r.lowerBound)") }
        return s
    }

    mutating func i64s(_ n: Int) throws -> [Int64] {
        var out = [Int64](repeating: 0, count: n)
        for i in 0..<n { out[i] = Int64(bitPattern: try u64()) }
        return out
    }

    mutating func floats(_ n: Int) throws -> [Float] {
        guard n <= remaining / 4 else { throw FormatProblem("truncated: \(n) floats do not fit at offset \(position)") }
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n { out[i] = try f32() }
        return out
    }
}
