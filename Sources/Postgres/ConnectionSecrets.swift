import CLibPQ

/// Finds the secrets in a libpq URL or conninfo string, so that error messages and logs can be
/// scrubbed of them: libpq's own messages may quote a malformed connection string verbatim.
enum ConnectionSecrets {
    static let mask = "********"

    /// Every password-like value in `conninfo`, raw and decoded, longest first.
    static func find(in conninfo: String) -> [String] {
        var found = Set<String>()
        // What libpq itself understands (decoded, e.g. %40 -> @).
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &errorMessage) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    found.insert(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let errorMessage { PQfreemem(errorMessage) }
        // What is written in the string (raw), even when libpq cannot parse it. Regex literals:
        // checked by the compiler, so scrubbing can never be turned off by a pattern that fails to build.
        for regex in [#/://[^/?#@]*?:([^@/?#]*)@/#, #/password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)/#] {
            for match in conninfo.matches(of: regex.ignoresCase()) {
                var value = String(match.1)
                found.insert(value)
                if value.hasPrefix("'"), value.hasSuffix("'"), value.count >= 2 {
                    value = String(value.dropFirst().dropLast())
                    found.insert(value)
                }
                if let decoded = value.removingPercentEncodingIfValid() { found.insert(decoded) }
            }
        }
        found.remove("")
        return found.sorted { $0.count > $1.count }
    }

    /// `text` with every secret of `conninfo` replaced by a mask.
    static func scrub(_ text: String, secrets: [String]) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: mask)
        }
        return result
    }
}

extension String {
    /// Percent-decoding without Foundation; nil when nothing was encoded or the encoding is invalid.
    fileprivate func removingPercentEncodingIfValid() -> String? {
        guard contains("%") else { return nil }
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
