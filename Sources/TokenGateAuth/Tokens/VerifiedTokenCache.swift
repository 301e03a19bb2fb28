import Crypto
import Synchronization

/// Remembers tokens whose signature and header already passed, so a session's repeated
/// requests skip the signature check. Keyed by the token's SHA-256 (no token is stored), tied
/// to the key-ring generation (a key change empties it), and bounded in size. Claims (exp,
/// nbf, iss, aud) and revocation are still checked on every use by the caller.
final class VerifiedTokenCache: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var entries: [SHA256Digest: AccessTokenClaims] = [:]
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The digest a token is cached under.
    static func key(for token: String) -> SHA256Digest {
        var hasher = SHA256()
        var copy = token
        copy.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        return hasher.finalize()
    }

    /// The claims of a token verified under key-ring `generation`, if cached.
    func claims(for key: SHA256Digest, generation: UInt64) -> AccessTokenClaims? {
        state.withLock { state in
            guard state.generation == generation else { return nil }
            return state.entries[key]
        }
    }

    /// Caches a verified token's claims.
    func insert(_ claims: AccessTokenClaims, for key: SHA256Digest, generation: UInt64) {
        guard capacity > 0 else { return }
        state.withLock { state in
            if state.generation != generation {
                state.generation = generation
                state.entries.removeAll(keepingCapacity: true)
            }
            if state.entries.count >= capacity {
                // Dropping everything is cheap and keeps memory bounded; hot tokens come back at once.
                state.entries.removeAll(keepingCapacity: true)
            }
            state.entries[key] = claims
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
