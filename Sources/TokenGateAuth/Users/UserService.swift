public import Foundation

/// Account administration: every change that must end sessions ends them here.
public struct UserService: Sendable {
    private let users: any UserStore
    private let hasher: any PasswordHasher
    private let sessions: SessionService

    public init(users: any UserStore, hasher: any PasswordHasher, sessions: SessionService) {
        self.users = users
        self.hasher = hasher
        self.sessions = sessions
    }

    /// Creates a user. - Throws: `.invalidRequest` for a bad name, role or password; `.conflict` if taken.
    @discardableResult
    public func add(username raw: String, name: String?, roles: [String], password: String, at now: Date) async throws -> User {
        guard let username = Username.canonical(raw) else {
            throw TokenGateError.invalidRequest("Usernames are 1 to \(Username.maxLength) characters without control characters.")
        }
        try Self.validate(roles: roles)
        try Self.validate(password: password)
        let user = User(
            username: username, name: name ?? username, roles: roles, passwordHash: try await hasher.hash(password),
            createdAt: now, updatedAt: now)
        try await users.insert(user)
        return user
    }

    /// Sets a new password and revokes every session of the user.
    public func changePassword(username: String, password: String, at now: Date) async throws {
        try Self.validate(password: password)
        var user = try await existing(username)
        user.passwordHash = try await hasher.hash(password)
        user.updatedAt = now
        try await users.update(user)
        try await sessions.revokeAll(
            userID: user.id, reason: "password_changed",
            event: AuditEvent(kind: "user.password_changed", at: now, userID: user.id, username: user.username))
    }

    /// Disables or enables a user; disabling revokes every session.
    public func setDisabled(_ disabled: Bool, username: String, at now: Date) async throws {
        var user = try await existing(username)
        user.isDisabled = disabled
        user.updatedAt = now
        try await users.update(user)
        if disabled {
            try await sessions.revokeAll(
                userID: user.id, reason: "user_disabled",
                event: AuditEvent(kind: "user.disabled", at: now, userID: user.id, username: user.username))
        }
    }

    /// Replaces a user's roles. Existing access tokens keep their roles until they expire.
    public func setRoles(_ roles: [String], username: String, at now: Date) async throws {
        try Self.validate(roles: roles)
        var user = try await existing(username)
        user.roles = roles
        user.updatedAt = now
        try await users.update(user)
    }

    /// Every user.
    public func list() async throws -> [User] {
        try await users.allUsers()
    }

    /// The user named `username`. - Throws: `.notFound`-style `.invalidRequest` naming the user.
    public func existing(_ username: String) async throws -> User {
        guard let canonical = Username.canonical(username), let user = try await users.user(username: canonical) else {
            throw TokenGateError.invalidRequest("No user named `\(username)`.")
        }
        return user
    }

    static func validate(roles: [String]) throws {
        for role in roles where !RoleName.isValid(role) {
            throw TokenGateError.invalidRequest("`\(role)` is not a valid role name (lowercase letters, digits, - _ . :).")
        }
    }

    static func validate(password: String) throws {
        guard password.count >= 8 else { throw TokenGateError.invalidRequest("Passwords need at least 8 characters.") }
        guard password.utf8.count <= Argon2idPasswordHasher.maximumPasswordBytes else {
            throw TokenGateError.invalidRequest("The password is too long.")
        }
    }
}
