internal import GRDB
public import TokenGateAuth

/// `UserStore` on a `SQLiteDatabase` (table `users`).
///
/// Usernames are stored lowercased and compared without case, so `Alice` and `alice` are one
/// account; lookups lowercase their argument too.
///
/// ```swift
/// let users = SQLiteUserStore(database: database)
/// try await users.insert(User(username: "alice", name: "Alice", roles: [], passwordHash: hash, createdAt: now, updatedAt: now))
/// ```
public struct SQLiteUserStore: UserStore {
    private let database: SQLiteDatabase

    private static let usernameTaken = "That username is already taken."

    /// A store on `database`.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// The user with this username, compared without case.
    public func user(username: String) async throws -> User? {
        let username = username.lowercased()
        return try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE username = ?", arguments: [username])
                .map(User.init(row:))
        }
    }

    /// The user with this id.
    public func user(id: String) async throws -> User? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(User.init(row:))
        }
    }

    /// Adds a user, its username lowercased.
    ///
    /// - Throws: `TokenGateError` `.conflict` when the username (in any case) or the id is taken.
    public func insert(_ user: User) async throws {
        let arguments = try Self.arguments(user)
        try await database.write(conflictMessage: Self.usernameTaken) { db in
            try db.execute(
                sql: """
                    INSERT INTO users (id, username, name, roles, password_hash, disabled, created_at, updated_at)
                    VALUES (:id, :username, :name, :roles, :password_hash, :disabled, :created_at, :updated_at)
                    """,
                arguments: arguments)
        }
    }

    /// Replaces the stored user with the same id, its username lowercased.
    ///
    /// - Throws: `TokenGateError` `.conflict` when the new username belongs to another user,
    ///   `.invalidRequest` when no user has this id.
    public func update(_ user: User) async throws {
        let arguments = try Self.arguments(user)
        let changed = try await database.write(conflictMessage: Self.usernameTaken) { db in
            try db.execute(
                sql: """
                    UPDATE users SET username = :username, name = :name, roles = :roles,
                        password_hash = :password_hash, disabled = :disabled, created_at = :created_at,
                        updated_at = :updated_at
                    WHERE id = :id
                    """,
                arguments: arguments)
            return db.changesCount
        }
        if changed == 0 {
            throw TokenGateError.invalidRequest("No such user.")
        }
    }

    /// Every user, ordered by username.
    public func allUsers() async throws -> [User] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY username").map(User.init(row:))
        }
    }

    private static func arguments(_ user: User) throws -> StatementArguments {
        let roles: String
        do {
            roles = try RolesColumn.encode(user.roles)
        } catch {
            throw TokenGateError.internalError(underlying: error)
        }
        return [
            "id": user.id, "username": user.username.lowercased(), "name": user.name, "roles": roles,
            "password_hash": user.passwordHash, "disabled": user.isDisabled,
            "created_at": user.createdAt.unixSeconds, "updated_at": user.updatedAt.unixSeconds,
        ]
    }
}
