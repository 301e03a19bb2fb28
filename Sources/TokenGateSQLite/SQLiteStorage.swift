public import TokenGateAuth

/// `Storage` on one SQLite file: the embedded default.
///
/// ```swift
/// let storage = try SQLiteStorage(database: SQLiteDatabase(path: "/var/lib/tokengate/tokengate.sqlite"))
/// ```
public struct SQLiteStorage: Storage {
    /// The database every store shares.
    public let database: SQLiteDatabase
    public let users: any UserStore
    public let sessions: any SessionStore
    public let throttle: any ThrottleStore
    public let audit: any AuditStore

    public var kind: String { "sqlite" }

    /// The stores on `database`.
    public init(database: SQLiteDatabase) {
        self.database = database
        users = SQLiteUserStore(database: database)
        sessions = SQLiteSessionStore(database: database)
        throttle = SQLiteThrottleStore(database: database)
        audit = SQLiteAuditStore(database: database)
    }

    public func migrate() async throws -> [String] {
        try database.migrate()
    }

    public func schemaVersion() async throws -> String? {
        try database.schemaVersion()
    }

    /// Healthy while SQLite answers reads and has not refused a write in the last 10 s
    /// (`SQLiteDatabase.checkHealth()`).
    public func checkHealth() async throws {
        do {
            try await database.checkHealth()
        } catch {
            throw TokenGateError.unavailable("The store is unreachable.", underlying: error)
        }
    }

    /// Nothing to release: the database closes when its last reference goes.
    public func close() {}
}
