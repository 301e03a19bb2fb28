/// A storage backend: every store on one database, its schema and its lifetime.
///
/// Two implementations: `SQLiteStorage` (the embedded default) and `PostgresStorage` (several
/// nodes on one database). Only `TokenGateApp` chooses between them.
///
/// ```swift
/// let storage: any Storage = try SQLiteStorage(path: path)
/// let user = try await storage.users.user(username: "alice")
/// ```
public protocol Storage: StoreHealth {
    /// `sqlite` or `postgres`, for logs.
    var kind: String { get }
    var users: any UserStore { get }
    var sessions: any SessionStore { get }
    var throttle: any ThrottleStore { get }
    var audit: any AuditStore { get }
    /// Applies pending migrations; returns their identifiers (empty when up to date).
    func migrate() async throws -> [String]
    /// The identifier of the newest applied migration, or `nil` for an empty database.
    func schemaVersion() async throws -> String?
    /// Releases connections; the stores must not be used afterwards.
    func close()
}
