internal import PostgresNIO
public import TokenGateAuth

/// `AuditStore` on a `PostgresBackend` (table `audit_events`).
///
/// ```swift
/// let audit = PostgresAuditStore(backend: backend)
/// try await audit.append(AuditEvent(kind: "login.succeeded", at: now, userID: user.id))
/// ```
public struct PostgresAuditStore: AuditStore {
    private let backend: PostgresBackend

    /// A store on `backend`.
    public init(backend: PostgresBackend) {
        self.backend = backend
    }

    /// Appends one event.
    public func append(_ event: AuditEvent) async throws {
        _ = try await backend.query(event.insertQuery)
    }

    /// The newest events first (by `at`, then by insertion), at most `limit`.
    public func recentEvents(limit: Int) async throws -> [AuditEvent] {
        guard limit > 0 else { return [] }
        return try await backend.query("SELECT * FROM audit_events ORDER BY at DESC, id DESC LIMIT \(limit)")
            .rows.map(AuditEvent.init(row:))
    }
}
