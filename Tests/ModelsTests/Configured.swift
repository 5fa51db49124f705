/// `value` after `change`: builds a configuration from its defaults in one expression.
func configured<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var value = value
    change(&value)
    return value
}
