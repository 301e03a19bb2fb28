import Foundation
internal import Logging
internal import PostgresNIO
import TokenGateAuth

/// The `SessionTransaction` handed to `PostgresSessionStore.transaction`: one connection inside
/// its `BEGIN … COMMIT`. Valid only during the body. Each statement blocks until it is answered
/// (see `PostgresSessionStore`).
///
/// Errors escape as `PSQLError` here; `PostgresBackend.withConnection` translates them once the
/// transaction has rolled back.
struct PostgresSessionTransaction: SessionTransaction {
    let connection: PostgresConnection
    let logger: Logger

    private func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        try connection.blockingQuery(query, logger: logger)
    }

    /// The token with this hash, its row locked until the transaction ends: a concurrent rotation
    /// of the same token on another node waits here and then sees this one's outcome.
    func refreshToken(hash: String) throws -> RefreshTokenRecord? {
        try run("SELECT * FROM refresh_tokens WHERE hash = \(hash) FOR UPDATE").rows.first
            .map(RefreshTokenRecord.init(row:))
    }

    /// The session with this id, its row locked until the transaction ends.
    func session(id: String) throws -> Session? {
        try run("SELECT * FROM sessions WHERE id = \(id) FOR UPDATE").rows.first.map(Session.init(row:))
    }

    func insert(_ session: Session) throws {
        _ = try run(
            """
            INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at,
                revoked_at, revoked_reason, client_address, user_agent)
            VALUES (\(session.id), \(session.userID), \(session.createdAt.unixSeconds), \(session.lastUsedAt.unixSeconds),
                \(session.idleExpiresAt.unixSeconds), \(session.absoluteExpiresAt.unixSeconds),
                \(session.revokedAt?.unixSeconds), \(session.revokedReason), \(session.clientAddress), \(session.userAgent))
            """)
    }

    func insert(_ token: RefreshTokenRecord) throws {
        let sealed = token.sealedSuccessor.map { Data($0) }
        _ = try run(
            """
            INSERT INTO refresh_tokens (hash, session_id, issued_at, spent_at, successor_hash, sealed_successor)
            VALUES (\(token.hash), \(token.sessionID), \(token.issuedAt.unixSeconds), \(token.spentAt?.unixSeconds),
                \(token.successorHash), \(sealed))
            """)
    }

    /// Marks a token spent and records its successor.
    ///
    /// - Throws: when no token has this hash: a rotation that spent nothing must not commit its successor.
    func markSpent(hash: String, at: Date, successorHash: String, sealedSuccessor: [UInt8]) throws {
        let sealed = Data(sealedSuccessor)
        let result = try run(
            """
            UPDATE refresh_tokens SET spent_at = \(at.unixSeconds), successor_hash = \(successorHash),
                sealed_successor = \(sealed)
            WHERE hash = \(hash)
            """)
        if (result.metadata.rows ?? 0) == 0 {
            throw PostgresStoreFailure("markSpent: no refresh token with this hash.")
        }
    }

    /// Sets `lastUsedAt` and `idleExpiresAt`.
    ///
    /// - Throws: when no session has this id.
    func touch(sessionID: String, lastUsedAt: Date, idleExpiresAt: Date) throws {
        let result = try run(
            """
            UPDATE sessions SET last_used_at = \(lastUsedAt.unixSeconds), idle_expires_at = \(idleExpiresAt.unixSeconds)
            WHERE id = \(sessionID)
            """)
        if (result.metadata.rows ?? 0) == 0 {
            throw PostgresStoreFailure("touch: no session with this id.")
        }
    }

    func revoke(sessionID: String, at: Date, reason: String) throws -> Bool {
        let result = try run(
            """
            UPDATE sessions SET revoked_at = \(at.unixSeconds), revoked_reason = \(reason)
            WHERE id = \(sessionID) AND revoked_at IS NULL
            """)
        return (result.metadata.rows ?? 0) > 0
    }

    func revokeAll(userID: String, at: Date, reason: String) throws -> [String] {
        try run(
            """
            UPDATE sessions SET revoked_at = \(at.unixSeconds), revoked_reason = \(reason)
            WHERE user_id = \(userID) AND revoked_at IS NULL
            RETURNING id
            """
        ).rows.map { try $0.decode(String.self) }.sorted()
    }

    func append(_ event: AuditEvent) throws {
        _ = try run(event.insertQuery)
    }
}
