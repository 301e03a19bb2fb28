import TokenGateAuth
import TokenGateHTTP

/// Finds the access token: `Authorization: Bearer <token>` (scheme case-insensitive, exactly
/// one token and nothing else), else the access cookie. A malformed `Authorization` header is
/// an error, never a fall-back to the cookie.
struct BearerToken {
    let cookieName: String

    func extract(from request: Request) throws -> String {
        let authorizations = request.headers.all("Authorization")
        if authorizations.count > 1 { throw TokenGateError.invalidToken("Send one Authorization header.") }
        if let header = authorizations.first {
            return try Self.parse(header)
        }
        guard let cookie = request.cookie(cookieName), !cookie.isEmpty else {
            throw TokenGateError.invalidToken("No access token was sent.")
        }
        return cookie
    }

    /// `Bearer <token68>` → token.
    static func parse(_ header: String) throws -> String {
        let parts = header.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, String(parts[0]).isEqualIgnoringASCIICase("Bearer"),
            !header.contains("\t"), !parts[1].isEmpty
        else { throw TokenGateError.invalidToken("The Authorization header must be `Bearer <token>`.") }
        return String(parts[1])
    }
}
