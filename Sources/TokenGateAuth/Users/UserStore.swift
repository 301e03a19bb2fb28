/// Persistent users.
///
/// ```swift
/// if let user = try await store.user(username: "alice") { ... }
/// ```
public protocol UserStore: Sendable {
    /// The user with this canonical username.
    func user(username: String) async throws -> User?
    /// The user with this id.
    func user(id: String) async throws -> User?
    /// Adds a user. Throws `TokenGateError` `.conflict` when the username is taken.
    func insert(_ user: User) async throws
    /// Replaces the stored user with the same id.
    func update(_ user: User) async throws
    /// Every user, ordered by username.
    func allUsers() async throws -> [User]
}
