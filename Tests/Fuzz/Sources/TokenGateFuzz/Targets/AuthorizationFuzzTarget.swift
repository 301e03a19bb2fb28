import TokenGateAuth
import TokenGateHTTP

@testable import TokenGateAPI

/// `Authorization: Bearer` parsing (`BearerToken`): an accepted header is `Bearer` (any case),
/// spaces, and one token68 token that ends the header; a rejected one is never replaced by the
/// access cookie; two `Authorization` fields are always refused.
struct AuthorizationFuzzTarget: FuzzTarget {
    static let name = "authorization"
    private static let cookieToken = "cookie.fallback.token"

    func run(_ data: [UInt8]) {
        let header = String(fuzzBytes: data)
        let parsed = Result { try BearerToken.parse(header) }
        if case .success(let token) = parsed {
            FuzzCheck.require(!token.isEmpty, "empty token accepted")
            FuzzCheck.require(header.lowercased().hasPrefix("bearer "), "scheme not Bearer: \(header.debugDescription)")
            FuzzCheck.require(header.hasSuffix(token), "text after the token: \(header.debugDescription)")
            FuzzCheck.require(token.utf8.allSatisfy(Self.isToken68), "non-token68 byte in \(token.debugDescription)")
            let between = header.utf8.dropFirst(6).dropLast(token.utf8.count)
            FuzzCheck.require(!between.isEmpty && between.allSatisfy { $0 == UInt8(ascii: " ") }, "bad separator")
        }
        if case .failure(let error) = parsed {
            FuzzCheck.require((error as? TokenGateError)?.code == .invalidToken, "parse threw \(error)")
        }
        let extractor = BearerToken(cookieName: "__Host-access")
        let cookie = ("Cookie", "__Host-access=\(Self.cookieToken)")
        let request = Request(method: .get, path: "/verify", headers: Headers([("Authorization", header), cookie]))
        let extracted = Result { try extractor.extract(from: request) }
        switch (parsed, extracted) {
        case (.success(let a), .success(let b)):
            FuzzCheck.require(a == b, "extract and parse disagree")
        case (.failure, .success(let token)):
            FuzzCheck.require(false, "a malformed Authorization fell back to the cookie: \(token)")
        case (.success, .failure):
            FuzzCheck.require(false, "extract refused what parse accepted")
        case (.failure, .failure):
            break
        }
        let twice = Request(
            method: .get, path: "/verify", headers: Headers([("Authorization", header), ("Authorization", header)]))
        FuzzCheck.require((try? extractor.extract(from: twice)) == nil, "two Authorization fields accepted")
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
