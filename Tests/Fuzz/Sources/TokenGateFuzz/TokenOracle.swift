import Crypto
import Foundation
import TokenGateAuth

/// An independent statement of DESIGN §3's acceptance rules, written without jwt-kit: the
/// token targets require that every token tokengate accepts is also accepted here. (The
/// converse is not required: refusing more is safe.)
enum TokenOracle {
    /// The claims the oracle read from an acceptable token.
    struct Accepted {
        let sub: String
        let roles: [String]
    }

    /// `nil` (with the reason in `why`) unless `token` is acceptable at `TestOnlyKeys.now`.
    static func accept(_ token: String, why: inout String) -> Accepted? {
        guard token.utf8.count <= 8192 else { why = "larger than 8 KiB"; return nil }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard segments.count == 3 else { why = "not three segments"; return nil }
        guard let headerBytes = Base64URL.decode(segments[0]),
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any]
        else { why = "header is not a base64url JSON object"; return nil }
        guard header["alg"] as? String == "EdDSA" else { why = "alg is not EdDSA"; return nil }
        guard header["kid"] as? String == TestOnlyKeys.kid else { why = "unknown kid"; return nil }
        guard header["crit"] == nil else { why = "crit present"; return nil }
        guard var type = (header["typ"] as? String)?.lowercased() else { why = "typ missing"; return nil }
        if type.hasPrefix("application/") { type.removeFirst("application/".count) }
        guard type == "at+jwt" else { why = "typ is not at+jwt"; return nil }
        guard let signature = Base64URL.decode(segments[2]),
            TestOnlyKeys.trusted.publicKey.isValidSignature(
                signature, for: Array((segments[0] + "." + segments[1]).utf8))
        else { why = "signature is not the trusted key's"; return nil }
        guard let payloadBytes = Base64URL.decode(segments[1]),
            let claims = try? JSONDecoder().decode(Claims.self, from: Data(payloadBytes))
        else { why = "claims missing or mistyped"; return nil }
        let now = TestOnlyKeys.now.timeIntervalSince1970
        guard claims.iss == TestOnlyKeys.issuer, claims.aud.values.contains(TestOnlyKeys.audience) else {
            why = "wrong iss or aud"; return nil
        }
        guard claims.exp.isFinite, now < claims.exp + TestOnlyKeys.leeway else { why = "expired"; return nil }
        if let nbf = claims.nbf, !(nbf.isFinite && now >= nbf - TestOnlyKeys.leeway) {
            why = "not yet valid"; return nil
        }
        guard claims.iat.isFinite, claims.iat <= now + TestOnlyKeys.leeway else {
            why = "issued in the future"; return nil
        }
        guard claims.sid != TestOnlyKeys.revokedSession else { why = "revoked session"; return nil }
        return Accepted(sub: claims.sub, roles: claims.roles)
    }

    /// Claims with JSON-number dates, as DESIGN §3 requires.
    private struct Claims: Decodable {
        let iss: String
        let aud: AccessTokenClaims.Audience
        let sub: String
        let iat: Double
        let exp: Double
        let nbf: Double?
        let jti: String
        let sid: String
        let roles: [String]
        let preferred_username: String
    }

    /// Every maximal run of base64url characters and dots with exactly two dots in `text`:
    /// the tokens a header could be carrying.
    static func candidates(in text: String) -> [String] {
        text.utf8.split { !Base64URL.isAlphabet($0) && $0 != UInt8(ascii: ".") }
            .filter { $0.filter { $0 == UInt8(ascii: ".") }.count == 2 }
            .map { String(decoding: $0, as: UTF8.self) }
    }
}
