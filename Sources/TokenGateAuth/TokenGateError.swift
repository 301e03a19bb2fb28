/// The one error type of tokengate: a stable code with its HTTP status, a client-safe message
/// and, for logs only, the underlying error and where it was raised.
///
/// ```swift
/// throw TokenGateError.invalidCredentials()
/// throw TokenGateError.unavailable("The store is unreachable.", retryAfter: 5, underlying: error)
/// ```
public struct TokenGateError: Error, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable, snake_case error code and the HTTP status it maps to.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        /// The HTTP status the code is answered with.
        public let httpStatus: Int

        public init(rawValue: String) {
            self.init(rawValue, Self.statuses[rawValue] ?? 500)
        }

        init(_ rawValue: String, _ httpStatus: Int) {
            self.rawValue = rawValue
            self.httpStatus = httpStatus
        }

        public var description: String { rawValue }

        public static let invalidRequest = Code("invalid_request", 400)
        public static let invalidCredentials = Code("invalid_credentials", 401)
        public static let invalidToken = Code("invalid_token", 401)
        public static let tokenExpired = Code("token_expired", 401)
        public static let refreshMissing = Code("refresh_missing", 401)
        public static let refreshInvalid = Code("refresh_invalid", 401)
        public static let refreshReused = Code("refresh_reused", 401)
        public static let accountDisabled = Code("account_disabled", 403)
        public static let originRejected = Code("origin_rejected", 403)
        public static let insufficientScope = Code("insufficient_scope", 403)
        public static let notFound = Code("not_found", 404)
        public static let methodNotAllowed = Code("method_not_allowed", 405)
        public static let conflict = Code("conflict", 409)
        public static let payloadTooLarge = Code("payload_too_large", 413)
        public static let unsupportedMediaType = Code("unsupported_media_type", 415)
        public static let tooManyAttempts = Code("too_many_attempts", 429)
        public static let internalError = Code("internal_error", 500)
        public static let unavailable = Code("unavailable", 503)

        private static let statuses: [String: Int] = Dictionary(
            uniqueKeysWithValues: [
                invalidRequest, invalidCredentials, invalidToken, tokenExpired, refreshMissing, refreshInvalid,
                refreshReused, accountDisabled, originRejected, insufficientScope, notFound, methodNotAllowed,
                conflict, payloadTooLarge, unsupportedMediaType, tooManyAttempts, internalError, unavailable,
            ].map { ($0.rawValue, $0.httpStatus) })
    }

    public let code: Code
    /// A sentence safe to show to the client: never secrets, SQL or token material.
    public let message: String
    /// Seconds the client should wait (`Retry-After`), for 429 and 503.
    public let retryAfter: Int?
    /// The error behind this one; logged, never sent.
    public let underlying: (any Error)?
    public let file: String
    public let line: Int

    public init(
        _ code: Code, _ message: String, retryAfter: Int? = nil, underlying: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    public static func == (lhs: TokenGateError, rhs: TokenGateError) -> Bool { lhs.code == rhs.code }

    public var description: String { "\(code.rawValue): \(message)" }

    public var debugDescription: String {
        var text = "\(code.rawValue): \(message) [\(file):\(line)]"
        if let underlying { text += " underlying: \(String(reflecting: underlying))" }
        return text
    }
}

extension TokenGateError {
    public static func invalidRequest(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidRequest, message, file: file, line: line)
    }
    public static func invalidCredentials(file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidCredentials, "The username or password is incorrect.", file: file, line: line)
    }
    public static func invalidToken(_ message: String = "The access token is missing or invalid.", file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidToken, message, file: file, line: line)
    }
    public static func tokenExpired(file: String = #fileID, line: Int = #line) -> Self {
        Self(.tokenExpired, "The access token has expired.", file: file, line: line)
    }
    public static func refreshMissing(file: String = #fileID, line: Int = #line) -> Self {
        Self(.refreshMissing, "No refresh token was sent.", file: file, line: line)
    }
    public static func refreshInvalid(file: String = #fileID, line: Int = #line) -> Self {
        Self(.refreshInvalid, "The refresh token is invalid or its session has ended.", file: file, line: line)
    }
    public static func refreshReused(file: String = #fileID, line: Int = #line) -> Self {
        Self(.refreshReused, "The refresh token was already used; the session has been revoked.", file: file, line: line)
    }
    public static func accountDisabled(file: String = #fileID, line: Int = #line) -> Self {
        Self(.accountDisabled, "This account is disabled.", file: file, line: line)
    }
    public static func originRejected(file: String = #fileID, line: Int = #line) -> Self {
        Self(.originRejected, "The request's origin is not allowed.", file: file, line: line)
    }
    public static func insufficientScope(file: String = #fileID, line: Int = #line) -> Self {
        Self(.insufficientScope, "The token does not grant access to this resource.", file: file, line: line)
    }
    public static func notFound(file: String = #fileID, line: Int = #line) -> Self {
        Self(.notFound, "No such endpoint.", file: file, line: line)
    }
    public static func conflict(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.conflict, message, file: file, line: line)
    }
    public static func payloadTooLarge(limit: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(.payloadTooLarge, "The request body is larger than \(limit) bytes.", file: file, line: line)
    }
    public static func unsupportedMediaType(_ expected: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.unsupportedMediaType, "The body must be \(expected).", file: file, line: line)
    }
    public static func tooManyAttempts(retryAfter: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(.tooManyAttempts, "Too many failed attempts; try again later.", retryAfter: retryAfter, file: file, line: line)
    }
    public static func unavailable(
        _ message: String = "The service is temporarily unavailable.", retryAfter: Int = 1,
        underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.unavailable, message, retryAfter: retryAfter, underlying: underlying, file: file, line: line)
    }
    public static func internalError(underlying: (any Error)? = nil, file: String = #fileID, line: Int = #line) -> Self {
        Self(.internalError, "An internal error occurred.", underlying: underlying, file: file, line: line)
    }
}
