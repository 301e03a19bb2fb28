public import Foundation

/// Persistent sessions and refresh tokens.
///
/// Rotation and reuse detection run inside `transaction`, which the backend makes atomic and
/// serialises against every other transaction touching the same tokens (SQLite `BEGIN IMMEDIATE`,
/// PostgreSQL row locks). It commits durably before returning.
///
/// ```swift
/// let successor = try await store.transaction { tx in
///     guard let record = try tx.refreshToken(hash: hash) else { throw TokenGateError.refreshInvalid() }
///     ...
/// }
/// ```
public protocol SessionStore: Sendable {
    /// Runs `body` atomically; throws what `body` throws after rolling back.
    /// Store failures surface as `TokenGateError` `.unavailable` or `.internalError`.
    func transaction<T: Sendable>(_ body: @Sendable (any SessionTransaction) throws -> T) async throws -> T
    /// The session with this id.
    func session(id: String) async throws -> Session?
    /// Sessions, newest first: of one user, or all when `userID` is nil; only active ones unless `includeEnded`.
    func sessions(userID: String?, includeEnded: Bool, now: Date) async throws -> [Session]
    /// How many sessions are active at `now` (not revoked, neither expiry passed).
    func activeSessionCount(now: Date) async throws -> Int
    /// Ids of sessions revoked at or after `since` (to rebuild the in-memory revocation list at start).
    func revokedSessionIDs(since: Date) async throws -> [(id: String, revokedAt: Date)]
    /// Deletes sessions (and their tokens) that ended before `before`. Returns how many were deleted.
    func purgeSessions(endedBefore before: Date) async throws -> Int
}

/// The operations available inside a `SessionStore.transaction`.
public protocol SessionTransaction {
    func refreshToken(hash: String) throws -> RefreshTokenRecord?
    func session(id: String) throws -> Session?
    func insert(_ session: Session) throws
    func insert(_ token: RefreshTokenRecord) throws
    /// Marks a token spent and records its successor.
    func markSpent(hash: String, at: Date, successorHash: String, sealedSuccessor: [UInt8]) throws
    /// Sets `lastUsedAt` and `idleExpiresAt`.
    func touch(sessionID: String, lastUsedAt: Date, idleExpiresAt: Date) throws
    /// Revokes one session if it is not revoked yet. Returns whether it changed.
    func revoke(sessionID: String, at: Date, reason: String) throws -> Bool
    /// Revokes every unrevoked session of a user. Returns the ids revoked.
    func revokeAll(userID: String, at: Date, reason: String) throws -> [String]
    /// Appends an audit event in the same transaction.
    func append(_ event: AuditEvent) throws
}
