public import Foundation
import Synchronization

/// Revoked session ids held in memory, so the gate rejects a revoked session's access tokens
/// without touching the store. An entry is kept until every access token of that session has
/// expired (revocation time + access TTL + leeway), then forgotten.
public final class RevocationList: Sendable {
    private let entries = Mutex<[String: Date]>([:])
    private let retention: TimeInterval

    /// - Parameter retention: how long an entry must be kept (access TTL + leeway).
    public init(retention: TimeInterval) {
        self.retention = retention
    }

    /// Whether access tokens of `sessionID` must be refused.
    public func isRevoked(sessionID: String) -> Bool {
        entries.withLock { $0[sessionID] != nil }
    }

    /// Records revocations; older entries past their retention are dropped at the same time.
    public func insert(_ sessionIDs: some Sequence<String>, revokedAt: Date) {
        let forgetAt = revokedAt.addingTimeInterval(retention)
        entries.withLock { entries in
            for id in sessionIDs {
                entries[id] = max(entries[id] ?? forgetAt, forgetAt)
            }
        }
    }

    /// Drops entries whose tokens can no longer be valid.
    public func prune(now: Date) {
        entries.withLock { entries in
            entries = entries.filter { $0.value > now }
        }
    }

    /// The number of sessions currently held.
    public var count: Int { entries.withLock { $0.count } }
}
