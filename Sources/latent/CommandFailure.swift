/// A failure while a command runs (bad data, an unwritable file): printed as `Error: <message>`
/// with exit status 1, without the usage text that argument errors get.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
