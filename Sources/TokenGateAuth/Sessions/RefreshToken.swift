import Crypto
import Foundation

/// Opaque refresh tokens: 256 random bits, base64url. Only their SHA-256 is stored; a
/// rotated token's successor is sealed under a key derived from the rotated token itself.
public enum RefreshToken {
    /// A new random token (43 base64url characters).
    public static func generate() -> String {
        let key = SymmetricKey(size: .bits256)
        return key.withUnsafeBytes { Base64URL.encode($0) }
    }

    /// Whether `token` has the shape of a token we issue (checked before any hashing or lookup).
    public static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy(Base64URL.isAlphabet)
    }

    /// The stored form: lowercase hex SHA-256 of the token.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Seals `successor` so that only a holder of `token` can open it (AES-GCM, HKDF-SHA256 key).
    static func seal(_ successor: String, under token: String) throws -> [UInt8] {
        let sealed = try AES.GCM.seal(Array(successor.utf8), using: key(for: token))
        guard let combined = sealed.combined else { throw TokenGateError.internalError() }
        return Array(combined)
    }

    /// Opens a sealed successor; `nil` if `token` is not the one it was sealed under.
    static func open(_ sealed: [UInt8], with token: String) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key(for: token))
        else { return nil }
        return String(bytes: plain, encoding: .utf8)
    }

    private static func key(for token: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(token.utf8)),
            info: Array("tokengate refresh successor v1".utf8), outputByteCount: 32)
    }
}
