import Foundation
internal import PostgresNIO
public import TokenGateAuth

/// `UserStore` on a `PostgresBackend` (table `users`).
///
/// Usernames are stored lowercased and unique on `lower(username)`, as in the SQLite backend.
///
/// ```swift
/// let users = PostgresUserStore(backend: backend)
/// let alice = try await users.user(username: "Alice")
/// ```
public struct PostgresUserStore: UserStore {
    private let backend: PostgresBackend

    private static let usernameTaken = "That username is already taken."

    /// A store on `backend`.
    public init(backend: PostgresBackend) {
        self.backend = backend
    }

    /// The user with this username, compared without case.
    public func user(username: String) async throws -> User? {
        let username = username.lowercased()
        return try await first("SELECT * FROM users WHERE username = \(username)")
    }

    /// The user with this id.
    public func user(id: String) async throws -> User? {
        try await first("SELECT * FROM users WHERE id = \(id)")
    }

    /// Adds a user, its username lowercased.
    ///
    /// - Throws: `TokenGateError` `.conflict` when the username (in any case) or the id is taken.
    public func insert(_ user: User) async throws {
        let roles = try Self.roles(user)
        let username = user.username.lowercased()
        let disabled = user.isDisabled ? 1 : 0
        _ = try await backend.query(
            """
            INSERT INTO users (id, username, name, roles, password_hash, disabled, created_at, updated_at)
            VALUES (\(user.id), \(username), \(user.name), \(roles), \(user.passwordHash), \(disabled),
                \(user.createdAt.unixSeconds), \(user.updatedAt.unixSeconds))
            """, conflictMessage: Self.usernameTaken)
    }

    /// Replaces the stored user with the same id, its username lowercased.
    ///
    /// - Throws: `TokenGateError` `.conflict` when the new username belongs to another user,
    ///   `.invalidRequest` when no user has this id.
    public func update(_ user: User) async throws {
        let roles = try Self.roles(user)
        let username = user.username.lowercased()
        let disabled = user.isDisabled ? 1 : 0
        let result = try await backend.query(
            """
            UPDATE users SET username = \(username), name = \(user.name), roles = \(roles),
                password_hash = \(user.passwordHash), disabled = \(disabled),
                created_at = \(user.createdAt.unixSeconds), updated_at = \(user.updatedAt.unixSeconds)
            WHERE id = \(user.id)
            """, conflictMessage: Self.usernameTaken)
        if (result.metadata.rows ?? 0) == 0 {
            throw TokenGateError.invalidRequest("No such user.")
        }
    }

    /// Every user, ordered by username.
    public func allUsers() async throws -> [User] {
        try await backend.query("SELECT * FROM users ORDER BY username").rows.map(User.init(row:))
    }

    private func first(_ query: PostgresQuery) async throws -> User? {
        let rows = try await backend.query(query).rows
        return try rows.first.map(User.init(row:))
    }

    private static func roles(_ user: User) throws -> String {
        do {
            return String(decoding: try JSONEncoder().encode(user.roles), as: UTF8.self)
        } catch {
            throw TokenGateError.internalError(underlying: error)
        }
    }
}
