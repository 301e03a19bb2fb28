internal import GRDB
public import TokenGateAuth

/// `AuditStore` on a `SQLiteDatabase` (table `audit_events`).
///
/// ```swift
/// let audit = SQLiteAuditStore(database: database)
/// try await audit.append(AuditEvent(kind: "login.succeeded", at: now, userID: user.id))
/// ```
public struct SQLiteAuditStore: AuditStore {
    private let database: SQLiteDatabase

    /// A store on `database`.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Appends one event.
    public func append(_ event: AuditEvent) async throws {
        try await database.write { db in try event.insert(db) }
    }

    /// The newest events first (by `at`, then by insertion), at most `limit`.
    public func recentEvents(limit: Int) async throws -> [AuditEvent] {
        guard limit > 0 else { return [] }
        return try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_events ORDER BY at DESC, id DESC LIMIT ?", arguments: [limit]
            )
            .map(AuditEvent.init(row:))
        }
    }
}
