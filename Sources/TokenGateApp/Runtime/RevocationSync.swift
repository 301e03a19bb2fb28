import Foundation
import Logging
import TokenGateAuth

/// Keeps the in-memory revocation list in step with the store: revocations made by another
/// process (the admin CLI, another node) reach this node's gate within `interval`.
///
/// Bounded polling of an indexed column was chosen over push notifications because SQLite
/// has none across processes; the query touches only sessions revoked since the last poll.
struct RevocationSync: Sendable {
    let store: any SessionStore
    let revocations: RevocationList
    let clock: any WallClock
    let retention: TimeInterval
    let interval: Duration
    let logger: Logger
    /// Receives the number of active sessions after each poll (for the metrics gauge).
    let reportActiveSessions: @Sendable (Int) -> Void

    /// Loads every revocation whose access tokens may still be alive.
    func loadInitial() async throws {
        let now = clock.now
        let revoked = try await store.revokedSessionIDs(since: now.addingTimeInterval(-retention))
        for entry in revoked {
            revocations.insert([entry.id], revokedAt: entry.revokedAt)
        }
        logger.info("revocation list loaded", metadata: ["revocation.count": "\(revocations.count)"])
    }

    /// Polls until the task is cancelled.
    func run() async {
        // Overlap the windows a little: a revocation committed just before a poll's read must not be missed.
        var since = clock.now.addingTimeInterval(-5)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let now = clock.now
            do {
                for entry in try await store.revokedSessionIDs(since: since) {
                    revocations.insert([entry.id], revokedAt: entry.revokedAt)
                }
                revocations.prune(now: now)
                since = now.addingTimeInterval(-5)
                reportActiveSessions(try await store.activeSessionCount(now: now))
            } catch {
                logger.warning("revocation poll failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
