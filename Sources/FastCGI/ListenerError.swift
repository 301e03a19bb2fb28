/// Why the listening socket could not be opened.
public struct ListenerError: Error, CustomStringConvertible {
    /// What was being done, e.g. `bind unix:/run/tokengate.sock`.
    public let operation: String
    /// The `errno` value, or 0 when not a system call failure.
    public let code: Int32
    /// A sentence for the operator.
    public let message: String

    public var description: String { "\(operation): \(message)" }
}
