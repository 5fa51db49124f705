/// The range checks every configuration's `validate()` is written with. Each check derives its
/// requirement text from the rule itself, so a condition and the message a user reads can never
/// disagree; a failure throws ``ModelError/invalidParameter(name:value:requirement:)``.
package enum ParameterCheck {
    /// An interval of real values, each end open or closed (`[0, 1)` is `.closedOpen(0, 1)`).
    package enum Interval<Value: BinaryFloatingPoint & CustomStringConvertible> {
        case open(Value, Value)
        case closed(Value, Value)
        case closedOpen(Value, Value)
        case openClosed(Value, Value)

        func contains(_ value: Value) -> Bool {
            switch self {
            case let .open(a, b): return value > a && value < b
            case let .closed(a, b): return value >= a && value <= b
            case let .closedOpen(a, b): return value >= a && value < b
            case let .openClosed(a, b): return value > a && value <= b
            }
        }

        var requirement: String {
            switch self {
            case let .open(a, b): return "in (\(Self.text(a)), \(Self.text(b)))"
            case let .closed(a, b): return "in [\(Self.text(a)), \(Self.text(b))]"
            case let .closedOpen(a, b): return "in [\(Self.text(a)), \(Self.text(b)))"
            case let .openClosed(a, b): return "in (\(Self.text(a)), \(Self.text(b))]"
            }
        }

        /// "1" rather than "1.0" for whole numbers.
        private static func text(_ value: Value) -> String {
            value == value.rounded() && abs(value) < 1e9 ? "\(Int(value))" : value.description
        }
    }

    /// An integer within `range` ("between 0 and 4096"); `note` explains a special value.
    package static func integer<T: BinaryInteger & CustomStringConvertible>(
        _ name: String, _ value: T, in range: ClosedRange<T>, note: String? = nil
    ) throws(ModelError) {
        let lower = note.map { "\(range.lowerBound) (\($0))" } ?? "\(range.lowerBound)"
        try require(range.contains(value), name, value, "between \(lower) and \(range.upperBound)")
    }

    /// An integer of at least `minimum` ("at least 1"); `note` says why.
    package static func integer<T: BinaryInteger & CustomStringConvertible>(
        _ name: String, _ value: T, atLeast minimum: T, note: String? = nil
    ) throws(ModelError) {
        try require(value >= minimum, name, value, "at least \(minimum)" + (note.map { " (\($0))" } ?? ""))
    }

    /// A finite real in `interval`.
    package static func real<T: BinaryFloatingPoint & CustomStringConvertible>(
        _ name: String, _ value: T, in interval: Interval<T>
    ) throws(ModelError) {
        try require(value.isFinite && interval.contains(value), name, value, interval.requirement)
    }

    /// A finite real greater than zero.
    package static func positive<T: BinaryFloatingPoint & CustomStringConvertible>(_ name: String, _ value: T) throws(ModelError) {
        try require(value.isFinite && value > 0, name, value, "a positive number")
    }

    /// A finite real, zero or greater.
    package static func nonNegative<T: BinaryFloatingPoint & CustomStringConvertible>(_ name: String, _ value: T) throws(ModelError) {
        try require(value.isFinite && value >= 0, name, value, "zero or positive")
    }

    /// Any finite real.
    package static func finite<T: BinaryFloatingPoint & CustomStringConvertible>(_ name: String, _ value: T) throws(ModelError) {
        try require(value.isFinite, name, value, "finite")
    }

    /// A range of finite reals.
    package static func finite(_ name: String, _ range: ClosedRange<Float>) throws(ModelError) {
        try require(range.lowerBound.isFinite && range.upperBound.isFinite, name, range, "finite")
    }

    /// The early-stopping settings the models trained by gradient descent share (MF, neural,
    /// MLP): at least one epoch, a validation share in [0, 0.5), a patience of at least one.
    package static func earlyStopping(epochs: Int, validationFraction: Double, patience: Int) throws(ModelError) {
        try integer("epochs", epochs, atLeast: 1)
        try real("validationFraction", validationFraction, in: .closedOpen(0, 0.5))
        try integer("patience", patience, atLeast: 1)
    }

    /// A rule of its own, with its requirement written out.
    package static func require(
        _ condition: Bool, _ name: String, _ value: any CustomStringConvertible, _ requirement: String
    ) throws(ModelError) {
        if !condition { throw ModelError.invalidParameter(name: name, value: value.description, requirement: requirement) }
    }
}
