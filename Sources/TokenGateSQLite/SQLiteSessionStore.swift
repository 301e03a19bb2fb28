public import Foundation
internal import GRDB
public import TokenGateAuth

/// `SessionStore` on a `SQLiteDatabase` (tables `sessions` and `refresh_tokens`).
///
/// `transaction` runs in `BEGIN IMMEDIATE`: it takes the database's single write lock before its
/// first read, so two rotations of the same token never interleave, and with `synchronous = FULL`
/// its commit is on disk when it returns.
///
/// ```swift
/// let sessions = SQLiteSessionStore(database: database)
/// let revoked = try await sessions.transaction { tx in
///     try tx.revoke(sessionID: id, at: now, reason: "logout")
/// }
/// ```
public struct SQLiteSessionStore: SessionStore {
    private let database: SQLiteDatabase

    /// A store on `database`.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Runs `body` in one immediate transaction; commits when it returns, rolls back when it throws.
    ///
    /// - Throws: what `body` throws when it is a `TokenGateError`; otherwise `TokenGateError`
    ///   `.unavailable` (busy, unreachable store) or `.internalError`.
    public func transaction<T: Sendable>(
        _ body: @Sendable (any SessionTransaction) throws -> T
    ) async throws -> T {
        try await database.write { db in
            try body(SQLiteSessionTransaction(db: db))
        }
    }

    /// The session with this id.
    public func session(id: String) async throws -> Session? {
        try await database.read { db in try Session.fetchOne(db, id: id) }
    }

    /// Sessions, newest first: of one user, or all when `userID` is nil; only those active at
    /// `now` unless `includeEnded`.
    public func sessions(userID: String?, includeEnded: Bool, now: Date) async throws -> [Session] {
        var conditions: [String] = []
        var arguments: StatementArguments = [:]
        if let userID {
            conditions.append("user_id = :user_id")
            arguments += ["user_id": userID]
        }
        if !includeEnded {
            conditions.append("revoked_at IS NULL AND idle_expires_at > :now AND absolute_expires_at > :now")
            arguments += ["now": now.unixSeconds]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM sessions \(filter) ORDER BY created_at DESC, id"
        return try await database.read { [arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map(Session.init(row:))
        }
    }

    /// How many sessions are active at `now`.
    public func activeSessionCount(now: Date) async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM sessions
                    WHERE revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?
                    """,
                arguments: [now.unixSeconds, now.unixSeconds]) ?? 0
        }
    }

    /// Ids of sessions revoked at or after `since`, oldest revocation first.
    public func revokedSessionIDs(since: Date) async throws -> [(id: String, revokedAt: Date)] {
        let rows = try await database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT id, revoked_at FROM sessions WHERE revoked_at >= ? ORDER BY revoked_at, id",
                arguments: [since.unixSeconds]
            ).map { row in (try row.decode(String.self, forColumn: "id"), try row.date("revoked_at")) }
        }
        return rows.map { (id: $0.0, revokedAt: $0.1) }
    }

    /// Deletes sessions revoked or expired (idle or absolute) before `before`, and their refresh tokens.
    public func purgeSessions(endedBefore before: Date) async throws -> Int {
        try await database.write { db in
            try db.execute(
                sql: """
                    DELETE FROM sessions
                    WHERE revoked_at < :before OR idle_expires_at < :before OR absolute_expires_at < :before
                    """,
                arguments: ["before": before.unixSeconds])
            return db.changesCount
        }
    }
}
