public import Foundation
import Synchronization

/// Revoked session ids held in memory, so the gate rejects a revoked session's access tokens
/// without touching the store. An entry is kept until every access token of that session has
/// expired (revocation time + access TTL + leeway), then forgotten. The retention follows the
/// configuration in force, so a reload that lengthens the access TTL keeps entries longer too.
public final class RevocationList: Sendable {
    private struct State {
        /// Session id → when it was revoked.
        var revokedAt: [String: Date] = [:]
        var retention: TimeInterval
    }

    private let state: Mutex<State>

    /// - Parameter retention: how long an entry must be kept (access TTL + leeway).
    public init(retention: TimeInterval) {
        state = Mutex(State(retention: retention))
    }

    /// Whether access tokens of `sessionID` must be refused.
    public func isRevoked(sessionID: String) -> Bool {
        state.withLock { $0.revokedAt[sessionID] != nil }
    }

    /// Records revocations (the latest time wins for a session revoked twice).
    public func insert(_ sessionIDs: some Sequence<String>, revokedAt: Date) {
        state.withLock { state in
            for id in sessionIDs {
                state.revokedAt[id] = max(state.revokedAt[id] ?? revokedAt, revokedAt)
            }
        }
    }

    /// Changes how long entries are kept (configuration reload: access TTL + leeway).
    public func setRetention(_ retention: TimeInterval) {
        state.withLock { $0.retention = retention }
    }

    /// Drops entries whose tokens can no longer be valid.
    public func prune(now: Date) {
        state.withLock { state in
            let cutoff = now.addingTimeInterval(-state.retention)
            state.revokedAt = state.revokedAt.filter { $0.value > cutoff }
        }
    }

    /// The number of sessions currently held.
    public var count: Int { state.withLock { $0.revokedAt.count } }
}
