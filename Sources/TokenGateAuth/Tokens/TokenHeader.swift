import Foundation

/// The JOSE header fields checked before any signature work (RFC 8725 §3.1, §3.11).
struct TokenHeader: Decodable {
    let alg: String?
    let typ: String?
    let kid: String?
    let crit: [String]?

    /// Decodes the first segment of a compact JWS, after checking that the header and the claims
    /// segments are strict JSON objects (`StrictJSONObject`: valid UTF-8, no duplicate names).
    /// - Throws: `TokenGateError.invalidToken` for anything that is not three base64url segments
    ///   with a JSON object header.
    init(token: String) throws {
        let segments = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard segments.count == 3, segments.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Base64URL.isAlphabet) }),
            let bytes = Base64URL.decode(String(decoding: segments[0], as: UTF8.self)),
            let claims = Base64URL.decode(String(decoding: segments[1], as: UTF8.self)),
            StrictJSONObject.isAcceptable(bytes), StrictJSONObject.isAcceptable(claims),
            let header = try? JSONDecoder().decode(TokenHeader.self, from: Data(bytes))
        else { throw TokenGateError.invalidToken("The access token is malformed.") }
        self = header
    }

    /// `typ` is `at+jwt`, case-insensitively, optionally with the `application/` prefix (RFC 9068).
    var hasAccessTokenType: Bool {
        guard var type = typ?.lowercased() else { return false }
        if type.hasPrefix("application/") { type.removeFirst("application/".count) }
        return type == "at+jwt"
    }
}
