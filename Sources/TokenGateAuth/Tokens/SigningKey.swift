import Crypto
public import Foundation

/// One Ed25519 key as stored in the key directory (a JWK with tokengate's bookkeeping fields).
/// Keys with a private part can sign; imported public keys only verify.
public struct SigningKey: Sendable, Equatable {
    public var kid: String
    /// The raw 32-byte public key.
    public var publicKey: [UInt8]
    /// The raw 32-byte private key (seed), or `nil` for a verify-only key.
    public var privateKey: [UInt8]?
    public var createdAt: Date
    public var retiredAt: Date?

    public init(kid: String, publicKey: [UInt8], privateKey: [UInt8]?, createdAt: Date, retiredAt: Date? = nil) {
        self.kid = kid
        self.publicKey = publicKey
        self.privateKey = privateKey
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }

    /// Generates a new signing key with a kid made of the date and random characters.
    public static func generate(now: Date) -> SigningKey {
        let key = Curve25519.Signing.PrivateKey()
        let day = ISO8601DateFormatter.string(from: now, timeZone: .gmt, formatOptions: [.withFullDate])
        let suffix = Base64URL.encode(Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }.prefix(6)))
        return SigningKey(
            kid: "\(day)-\(suffix)", publicKey: Array(key.publicKey.rawRepresentation),
            privateKey: Array(key.rawRepresentation), createdAt: now)
    }

    /// Whether this key can sign.
    public var canSign: Bool { privateKey != nil }

    /// The public JWK (for the JWKS endpoint).
    public var publicJWK: [String: String] {
        ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(publicKey), "kid": kid, "alg": "EdDSA", "use": "sig"]
    }

    /// The stored form: the JWK plus `d` (when private) and the bookkeeping dates.
    public func fileContents() throws -> Data {
        var object: [String: Any] = publicJWK
        if let privateKey { object["d"] = Base64URL.encode(privateKey) }
        object["created_at"] = createdAt.timeIntervalSince1970
        if let retiredAt { object["retired_at"] = retiredAt.timeIntervalSince1970 }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
    }

    /// Reads a stored key or an imported public JWK.
    /// - Throws: `KeyFileError` describing what is wrong.
    public init(fileContents data: Data, fallbackKid: String, now: Date) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw KeyFileError("not a JSON object")
        }
        guard object["kty"] as? String == "OKP", object["crv"] as? String == "Ed25519" else {
            throw KeyFileError("only Ed25519 keys (kty OKP, crv Ed25519) are supported")
        }
        guard let x = (object["x"] as? String).flatMap(Base64URL.decode), x.count == 32 else {
            throw KeyFileError("missing or malformed `x`")
        }
        var privateKey: [UInt8]?
        if let d = object["d"] as? String {
            guard let bytes = Base64URL.decode(d), bytes.count == 32,
                let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes),
                Array(key.publicKey.rawRepresentation) == x
            else { throw KeyFileError("`d` is malformed or does not match `x`") }
            privateKey = bytes
        }
        let kid = (object["kid"] as? String) ?? fallbackKid
        guard !kid.isEmpty, kid.count <= 128, kid.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw KeyFileError("`kid` must be 1–128 printable ASCII characters")
        }
        self.init(
            kid: kid, publicKey: x, privateKey: privateKey,
            createdAt: (object["created_at"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) } ?? now,
            retiredAt: (object["retired_at"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) })
    }
}

/// A key file that cannot be used, and why.
public struct KeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
