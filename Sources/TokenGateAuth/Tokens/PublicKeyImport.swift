import JWTKit
public import Foundation

/// Reads a public Ed25519 key given by an operator (a JWK or a PEM `PUBLIC KEY`) as a
/// verify-only `SigningKey`. Private material is dropped: imported keys never sign.
public enum PublicKeyImport {
    /// - Parameter kid: required for PEM; overrides the JWK's `kid`.
    /// - Throws: `KeyFileError` describing what is wrong.
    public static func parse(_ data: Data, kid: String?, now: Date) throws -> SigningKey {
        let text = String(decoding: data, as: UTF8.self)
        if text.contains("-----BEGIN") {
            guard let kid, !kid.isEmpty else { throw KeyFileError("a PEM key needs --kid") }
            guard text.contains("PUBLIC KEY"), let key = try? EdDSA.PublicKey(pem: text) else {
                throw KeyFileError("not an Ed25519 PEM public key")
            }
            return SigningKey(kid: kid, publicKey: Array(key.rawRepresentation), privateKey: nil, createdAt: now)
        }
        var key = try SigningKey(fileContents: data, fallbackKid: kid ?? "", now: now)
        if let kid { key.kid = kid }
        guard !key.kid.isEmpty else { throw KeyFileError("the JWK has no kid; pass --kid") }
        key.privateKey = nil
        key.createdAt = now
        key.retiredAt = nil
        return key
    }
}
