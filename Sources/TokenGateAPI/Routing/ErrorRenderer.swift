import TokenGateAuth
public import TokenGateHTTP

/// The single place that turns an error into the contract's response:
/// `{"error": "<code>", "message": "<sentence>"}` with the code's status.
public enum ErrorRenderer {
    /// Renders `error`; anything that is not a `TokenGateError` becomes 500 `internal_error`.
    /// - Parameter bearerChallenge: add `WWW-Authenticate: Bearer error="…"` on 401/403.
    public static func response(for error: any Error, bearerChallenge: Bool = false) -> Response {
        let gateError = (error as? TokenGateError) ?? .internalError(underlying: error)
        var headers = Headers()
        headers["Cache-Control"] = "no-store"
        if let retryAfter = gateError.retryAfter {
            headers["Retry-After"] = String(max(1, retryAfter))
        }
        if bearerChallenge, gateError.code.httpStatus == 401 || gateError.code.httpStatus == 403 {
            let challenge = gateError.code.httpStatus == 403 ? "insufficient_scope" : "invalid_token"
            headers["WWW-Authenticate"] = "Bearer error=\"\(challenge)\""
        }
        return .json(Status(gateError.code.httpStatus), body(code: gateError.code.rawValue, message: gateError.message), headers: headers)
    }

    /// The error body as bytes.
    public static func body(code: String, message: String) -> [UInt8] {
        Array("{\"error\":\(JSONText.quote(code)),\"message\":\(JSONText.quote(message))}".utf8)
    }
}
