import Crypto
import Foundation
import TokenGateAuth

@testable import TokenGateApp

/// Builds compact JWS tokens by hand, so tests can present exactly the token an attacker would.
///
/// ```swift
/// let forge = try TokenForge(app: app)
/// let claims = TokenForge.payload(of: session.access)
/// let token = forge.sign(header: forge.header(), claims: claims)   // a valid token: 204 at /verify
/// ```
struct TokenForge {
    /// The kid of the app's signing key.
    let kid: String
    /// The app's private signing key.
    let key: Curve25519.Signing.PrivateKey
    /// The app's public key, raw.
    let publicKey: [UInt8]

    /// Reads the app's signing key from its key directory.
    init(app: TestApp) throws {
        let keys = try KeyDirectory(path: app.services.configuration.keyDirectory).load(now: app.clock.now)
        guard let signer = keys.first(where: { $0.kid == app.services.keys.signingKid }),
            let privateKey = signer.privateKey
        else { throw ForgeError.noSigningKey }
        kid = signer.kid
        key = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
        publicKey = signer.publicKey
    }

    enum ForgeError: Error {
        case noSigningKey
    }

    /// The header tokengate writes, with changes.
    func header(alg: String = "EdDSA", typ: String? = "at+jwt", kid: String? = nil, extra: [String: Any] = [:])
        -> [String: Any]
    {
        var header: [String: Any] = ["alg": alg, "kid": kid ?? self.kid]
        if let typ { header["typ"] = typ }
        header.merge(extra) { $1 }
        return header
    }

    /// Signs with the app's own key (or `key`).
    func sign(header: [String: Any], claims: [String: Any], with key: Curve25519.Signing.PrivateKey? = nil) -> String {
        let input = Self.segment(header) + "." + Self.segment(claims)
        let signature = try! (key ?? self.key).signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// Signs segments given as raw JSON bytes (for JSON that `JSONSerialization` would not write:
    /// duplicate names, invalid UTF-8, odd spacing).
    func sign(rawHeader: [UInt8], rawClaims: [UInt8]) -> String {
        let input = Base64URL.encode(rawHeader) + "." + Base64URL.encode(rawClaims)
        let signature = try! key.signature(for: Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// An HS256 token whose MAC key is `secret`.
    static func hs256(header: [String: Any], claims: [String: Any], secret: [UInt8]) -> String {
        let input = segment(header) + "." + segment(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
        return input + "." + Base64URL.encode(Array(mac))
    }

    /// The base64url JSON of `object`.
    static func segment(_ object: [String: Any]) -> String {
        Base64URL.encode(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// The decoded header of a token.
    static func header(of token: String) -> [String: Any] {
        decode(token.split(separator: ".", omittingEmptySubsequences: false)[0])
    }

    /// The decoded claims of a token.
    static func payload(of token: String) -> [String: Any] {
        decode(token.split(separator: ".", omittingEmptySubsequences: false)[1])
    }

    private static func decode(_ segment: Substring) -> [String: Any] {
        guard let bytes = Base64URL.decode(String(segment)),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return [:] }
        return object
    }
}
