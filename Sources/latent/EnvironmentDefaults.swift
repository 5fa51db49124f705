import Foundation

/// The environment variable `name` when it is set and not empty (an empty one counts as unset).
func environmentValue(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}
