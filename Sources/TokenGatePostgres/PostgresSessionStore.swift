public import Foundation
internal import PostgresNIO
public import TokenGateAuth

/// `SessionStore` on a `PostgresBackend` (tables `sessions` and `refresh_tokens`).
///
/// `transaction` runs its synchronous body inside one PostgreSQL transaction on one leased
/// connection. The body's reads of a refresh token take its row lock (`SELECT … FOR UPDATE`), so
/// when two nodes present the same token at the same moment the second waits for the first to
/// commit and then sees the token spent: it gets the same successor within the grace window, or
/// reuse detection after it. `synchronous_commit = on` makes the commit durable before it returns.
///
/// The body's statements block their thread until PostgreSQL answers
/// (`PostgresConnection.blockingQuery`). That is sound because a transaction runs on the caller's
/// task executor — a FastCGI worker thread for requests (`WorkerExecutor.blockingAwait`), the
/// command's task for the CLI — and never on a NIO event loop, whose threads deliver the answers.
///
/// ```swift
/// let sessions = PostgresSessionStore(backend: backend)
/// let revoked = try await sessions.transaction { tx in
///     try tx.revoke(sessionID: id, at: now, reason: "logout")
/// }
/// ```
public struct PostgresSessionStore: SessionStore {
    private let backend: PostgresBackend

    /// A store on `backend`.
    public init(backend: PostgresBackend) {
        self.backend = backend
    }

    /// Runs `body` in one transaction; commits when it returns, rolls back when it throws.
    ///
    /// - Throws: what `body` throws when it is a `TokenGateError`; otherwise `TokenGateError`
    ///   `.unavailable` (unreachable server, serialisation failure) or `.internalError`.
    public func transaction<T: Sendable>(
        _ body: @Sendable (any SessionTransaction) throws -> T
    ) async throws -> T {
        let logger = backend.logger
        return try await backend.inTransaction { connection in
            try body(PostgresSessionTransaction(connection: connection, logger: logger))
        }
    }

    /// The session with this id.
    public func session(id: String) async throws -> Session? {
        try await backend.query("SELECT * FROM sessions WHERE id = \(id)").rows.first.map(Session.init(row:))
    }

    /// Sessions, newest first: of one user, or all when `userID` is nil; only those active at
    /// `now` unless `includeEnded`.
    public func sessions(userID: String?, includeEnded: Bool, now: Date) async throws -> [Session] {
        let now = now.unixSeconds
        let query: PostgresQuery =
            """
            SELECT * FROM sessions
            WHERE (\(userID)::TEXT IS NULL OR user_id = \(userID))
              AND (\(includeEnded) OR (revoked_at IS NULL AND idle_expires_at > \(now) AND absolute_expires_at > \(now)))
            ORDER BY created_at DESC, id
            """
        return try await backend.query(query).rows.map(Session.init(row:))
    }

    /// How many sessions are active at `now`.
    public func activeSessionCount(now: Date) async throws -> Int {
        let now = now.unixSeconds
        let rows = try await backend.query(
            """
            SELECT COUNT(*) FROM sessions
            WHERE revoked_at IS NULL AND idle_expires_at > \(now) AND absolute_expires_at > \(now)
            """
        ).rows
        return try rows.first?.decode(Int.self) ?? 0
    }

    /// Ids of sessions revoked at or after `since`, oldest revocation first.
    public func revokedSessionIDs(since: Date) async throws -> [(id: String, revokedAt: Date)] {
        try await backend.query(
            "SELECT id, revoked_at FROM sessions WHERE revoked_at >= \(since.unixSeconds) ORDER BY revoked_at, id"
        ).rows.map { row in
            let (id, revokedAt) = try row.decode((String, Double).self)
            return (id: id, revokedAt: Date(timeIntervalSince1970: revokedAt))
        }
    }

    /// Deletes sessions revoked or expired (idle or absolute) before `before`, and their refresh tokens.
    public func purgeSessions(endedBefore before: Date) async throws -> Int {
        let before = before.unixSeconds
        return try await backend.query(
            """
            DELETE FROM sessions
            WHERE revoked_at < \(before) OR idle_expires_at < \(before) OR absolute_expires_at < \(before)
            """
        ).metadata.rows ?? 0
    }
}
