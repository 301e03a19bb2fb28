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

    /// `Bearer <token68>` → token. Works on the header's contiguous UTF-8 bytes: this runs
    /// before every gated request.
    static func parse(_ header: String) throws -> String {
        var header = header
        let token: String? = header.withUTF8 { bytes in
            let scheme = "bearer".utf8
            guard bytes.count > scheme.count + 1 else { return nil }
            var index = 0
            for expected in scheme {
                guard bytes[index] | 0x20 == expected else { return nil }
                index += 1
            }
            guard bytes[index] == UInt8(ascii: " ") else { return nil }
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
            let token = UnsafeBufferPointer(rebasing: bytes[index...])
            // RFC 6750 token68 characters only: one token, nothing after it.
            guard !token.isEmpty, token.allSatisfy(Self.isToken68) else { return nil }
            return String(decoding: token, as: UTF8.self)
        }
        guard let token else { throw TokenGateError.invalidToken("The Authorization header must be `Bearer <token>`.") }
        return token
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
