import Foundation
internal import GRDB
import TokenGateAuth

/// The `SessionTransaction` handed to `SQLiteSessionStore.transaction`: the writer connection
/// inside its `BEGIN IMMEDIATE` transaction. Valid only during the body.
///
/// Errors escape as `DatabaseError` here; `SQLiteDatabase.write` translates them once the
/// transaction has rolled back.
struct SQLiteSessionTransaction: SessionTransaction {
    let db: Database

    func refreshToken(hash: String) throws -> RefreshTokenRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM refresh_tokens WHERE hash = ?", arguments: [hash])
            .map(RefreshTokenRecord.init(row:))
    }

    func session(id: String) throws -> Session? {
        try Session.fetchOne(db, id: id)
    }

    func insert(_ session: Session) throws {
        try db.execute(
            sql: """
                INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at,
                    revoked_at, revoked_reason, client_address, user_agent)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                session.id, session.userID, session.createdAt.unixSeconds, session.lastUsedAt.unixSeconds,
                session.idleExpiresAt.unixSeconds, session.absoluteExpiresAt.unixSeconds,
                session.revokedAt?.unixSeconds, session.revokedReason, session.clientAddress, session.userAgent,
            ])
    }

    func insert(_ token: RefreshTokenRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO refresh_tokens (hash, session_id, issued_at, spent_at, successor_hash, sealed_successor)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                token.hash, token.sessionID, token.issuedAt.unixSeconds, token.spentAt?.unixSeconds,
                token.successorHash, token.sealedSuccessor.map { Data($0) },
            ])
    }

    /// Marks a token spent and records its successor.
    ///
    /// - Throws: when no token has this hash: a rotation that spent nothing must not commit its successor.
    func markSpent(hash: String, at: Date, successorHash: String, sealedSuccessor: [UInt8]) throws {
        try db.execute(
            sql: "UPDATE refresh_tokens SET spent_at = ?, successor_hash = ?, sealed_successor = ? WHERE hash = ?",
            arguments: [at.unixSeconds, successorHash, Data(sealedSuccessor), hash])
        if db.changesCount == 0 {
            throw SQLiteStoreFailure("markSpent: no refresh token with this hash.")
        }
    }

    /// Sets `lastUsedAt` and `idleExpiresAt`.
    ///
    /// - Throws: when no session has this id.
    func touch(sessionID: String, lastUsedAt: Date, idleExpiresAt: Date) throws {
        try db.execute(
            sql: "UPDATE sessions SET last_used_at = ?, idle_expires_at = ? WHERE id = ?",
            arguments: [lastUsedAt.unixSeconds, idleExpiresAt.unixSeconds, sessionID])
        if db.changesCount == 0 {
            throw SQLiteStoreFailure("touch: no session with this id.")
        }
    }

    func revoke(sessionID: String, at: Date, reason: String) throws -> Bool {
        try db.execute(
            sql: "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
            arguments: [at.unixSeconds, reason, sessionID])
        return db.changesCount > 0
    }

    func revokeAll(userID: String, at: Date, reason: String) throws -> [String] {
        let ids = try String.fetchAll(
            db, sql: "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL ORDER BY id",
            arguments: [userID])
        try db.execute(
            sql: "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL",
            arguments: [at.unixSeconds, reason, userID])
        return ids
    }

    func append(_ event: AuditEvent) throws {
        try event.insert(db)
    }
}
