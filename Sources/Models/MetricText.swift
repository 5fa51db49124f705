/// How metrics are written in command output and logs: fixed four decimals, `nan` when not finite.
package enum MetricText {
    package static func fixed(_ value: Double) -> String {
        guard value.isFinite else { return "nan" }
        let scaled = (value * 10_000).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Int64(abs(scaled))
        let fraction = String(magnitude % 10_000)
        return "\(sign)\(magnitude / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }
}
