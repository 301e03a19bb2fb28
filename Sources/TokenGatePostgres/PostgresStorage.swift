public import TokenGateAuth

/// `Storage` on one PostgreSQL database: for several tokengate nodes.
///
/// ```swift
/// let storage = PostgresStorage(backend: PostgresBackend(settings: settings, logger: logger))
/// _ = try await storage.migrate()
/// ```
public struct PostgresStorage: Storage {
    /// The connection pool every store shares.
    public let backend: PostgresBackend
    public let users: any UserStore
    public let sessions: any SessionStore
    public let throttle: any ThrottleStore
    public let audit: any AuditStore

    public var kind: String { "postgres" }

    /// The stores on `backend`.
    public init(backend: PostgresBackend) {
        self.backend = backend
        users = PostgresUserStore(backend: backend)
        sessions = PostgresSessionStore(backend: backend)
        throttle = PostgresThrottleStore(backend: backend)
        audit = PostgresAuditStore(backend: backend)
    }

    public func migrate() async throws -> [String] {
        try await backend.migrate()
    }

    public func schemaVersion() async throws -> String? {
        try await backend.schemaVersion()
    }

    /// Healthy while PostgreSQL answers a trivial query within the connect timeout.
    public func checkHealth() async throws {
        do {
            try await backend.ping()
        } catch {
            throw TokenGateError.unavailable("The store is unreachable.", underlying: error)
        }
    }

    public func close() {
        backend.shutdown()
    }
}
