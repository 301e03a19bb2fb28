import Crypto
import Foundation
import TokenGateAuth

/// TEST-ONLY KEYS. These Ed25519 seeds are public (committed in this file and used by
/// `Tests/Fuzz/make_corpus.py` to sign the seed tokens of `Tests/Fuzz/corpus/`). They exist
/// only so the fuzz targets can hold valid tokens; no deployment may ever load them.
enum TestOnlyKeys {
    /// The kid the fuzzed verifier knows.
    static let kid = "fuzz-test-only"
    /// The key the verifier trusts (seed bytes 0x01…0x20).
    static let trusted = try! Curve25519.Signing.PrivateKey(rawRepresentation: (1...32).map { UInt8($0) })
    /// A key nobody trusts, used with the trusted kid to forge signatures (seed bytes 0x21…0x40).
    static let attacker = try! Curve25519.Signing.PrivateKey(rawRepresentation: (33...64).map { UInt8($0) })

    /// The fixed "now" of every token target: 2027-01-15T08:00:00Z. Seed tokens are valid then.
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    /// The issuer and audience of the verifier (the defaults of `TokenSettings`).
    static let issuer = "tokengate"
    static let audience = "tokengate"
    /// A session the verifier's revocation list holds.
    static let revokedSession = "revoked-session"
    /// Clock leeway, as `TokenSettings` defaults to.
    static let leeway = 30.0

    /// `AccessTokens` as tokengate builds them, trusting only `trusted` (verify-only, as an
    /// operator-imported public key) under `kid`.
    static func makeAccessTokens(cacheCapacity: Int) -> AccessTokens {
        FuzzCheck.blocking {
            let key = SigningKey(
                kid: kid, publicKey: Array(trusted.publicKey.rawRepresentation), privateKey: nil,
                createdAt: Date(timeIntervalSince1970: 0))
            let ring = try! await KeyRing(keys: [key])
            let revocations = RevocationList(retention: 3600)
            revocations.insert([revokedSession], revokedAt: now)
            return AccessTokens(
                settings: TokenSettings(issuer: issuer, audience: audience), keys: ring, revocations: revocations,
                cacheCapacity: cacheCapacity)
        }
    }

    /// A compact JWS of `header` and `payload` (raw JSON bytes) signed by `key`.
    static func sign(header: [UInt8], payload: [UInt8], with key: Curve25519.Signing.PrivateKey) -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        let signature = try! key.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// The header tokengate writes.
    static let validHeader = Array(#"{"alg":"EdDSA","kid":"fuzz-test-only","typ":"at+jwt"}"#.utf8)

    /// Claims valid at `now`.
    static let validPayload = Array(
        #"""
        {"aud":"tokengate","exp":1800000840,"iat":1799999940,"iss":"tokengate","jti":"j-1",\#
        "preferred_username":"alice","roles":["staff"],"sid":"s-1","sub":"u-1"}
        """#.utf8)

    /// A token the verifier must accept.
    static let validToken = sign(header: validHeader, payload: validPayload, with: trusted)
}
