internal import CArgon2

/// A failure reported by libargon2: its numeric code and the library's message for it.
///
/// Callers wrap it in `TokenGateError.internalError(underlying:)`; it is logged, never sent to clients.
public struct Argon2Failure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `Argon2_ErrorCodes` value returned by the C library (negative).
    public let code: Int32
    /// A human-readable explanation, from `argon2_error_message` or from tokengate's own checks.
    public let message: String

    /// Creates a failure with an explicit message.
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// Creates a failure whose message is libargon2's text for `code`.
    init(code: Int32) {
        let text = argon2_error_message(code).map { String(cString: $0) } ?? "Unknown error code"
        self.init(code: code, message: text)
    }

    /// A stored hash that tokengate refuses to hand to libargon2 (unparseable, wrong algorithm, or
    /// parameters outside the accepted range).
    static func malformedHash(_ reason: String) -> Self {
        Self(code: ARGON2_DECODING_FAIL.rawValue, message: "Malformed stored hash: \(reason)")
    }

    /// `argon2 error <code>: <message>`.
    public var description: String { "argon2 error \(code): \(message)" }
}
