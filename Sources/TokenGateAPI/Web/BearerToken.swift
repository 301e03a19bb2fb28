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

    /// `Bearer <token68>` → token. Works on UTF-8 bytes: this runs before every gated request.
    static func parse(_ header: String) throws -> String {
        let bytes = header.utf8
        let scheme = "bearer".utf8
        let malformed = TokenGateError.invalidToken("The Authorization header must be `Bearer <token>`.")
        guard bytes.count > scheme.count + 1 else { throw malformed }
        var index = bytes.startIndex
        for expected in scheme {
            guard bytes[index] | 0x20 == expected else { throw malformed }
            index = bytes.index(after: index)
        }
        guard bytes[index] == UInt8(ascii: " ") else { throw malformed }
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") { index = bytes.index(after: index) }
        let token = bytes[index...]
        // RFC 6750 token68 characters only: one token, nothing after it.
        guard !token.isEmpty, token.allSatisfy(Self.isToken68) else { throw malformed }
        return String(Substring(token))
    }

    private static func isToken68(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
            true
        default:
            false
        }
    }
}
