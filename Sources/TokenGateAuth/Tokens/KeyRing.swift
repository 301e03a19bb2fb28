import Crypto
import Foundation
import JWTKit
import Synchronization

/// The keys in use: the newest active private key signs, every non-retired key verifies.
/// `replace(with:)` swaps the set atomically (SIGHUP), so no request sees a half-loaded state.
public final class KeyRing: Sendable {
    /// An immutable view of the loaded keys.
    struct Snapshot: Sendable {
        let collection: JWTKeyCollection
        let signingKid: String?
        let verifyingKids: Set<String>
        let jwks: [UInt8]
        /// Changes with every `replace(with:)`: verified-token caches keyed to it empty themselves.
        let generation: UInt64
    }

    private let snapshot: Mutex<Snapshot>

    /// Loads `keys` (retired ones are ignored).
    public init(keys: [SigningKey]) async throws {
        snapshot = Mutex(try await Self.makeSnapshot(keys, generation: 1))
    }

    /// Replaces the keys in use.
    public func replace(with keys: [SigningKey]) async throws {
        let generation = current.generation + 1
        let new = try await Self.makeSnapshot(keys, generation: generation)
        snapshot.withLock { $0 = new }
    }

    var current: Snapshot { snapshot.withLock { $0 } }

    /// The kid that signs new tokens.
    public var signingKid: String? { current.signingKid }

    /// The JWK Set of every key that may still verify, as JSON bytes.
    public var jwks: [UInt8] { current.jwks }

    private static func makeSnapshot(_ keys: [SigningKey], generation: UInt64) async throws -> Snapshot {
        let active = keys.filter { $0.retiredAt == nil }
        let collection = JWTKeyCollection()
        for key in active {
            let kid = JWKIdentifier(string: key.kid)
            if let privateKey = key.privateKey {
                let backing = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKey)
                await collection.add(eddsa: EdDSA.PrivateKey(backing: backing), kid: kid)
            } else {
                let backing = try Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey)
                await collection.add(eddsa: EdDSA.PublicKey(backing: backing), kid: kid)
            }
        }
        let signer = active.filter(\.canSign).max { $0.createdAt < $1.createdAt }
        let jwks = try JSONSerialization.data(
            withJSONObject: ["keys": active.map(\.publicJWK)], options: [.sortedKeys, .withoutEscapingSlashes])
        return Snapshot(
            collection: collection, signingKid: signer?.kid, verifyingKids: Set(active.map(\.kid)), jwks: Array(jwks),
            generation: generation)
    }
}
