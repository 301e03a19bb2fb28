public import Foundation

/// Checks credentials and starts a session: throttle first, then Argon2id (a dummy
/// verification for unknown users, so both failures cost the same), then the account state.
public struct LoginService: Sendable {
    /// A successful login.
    public struct Success: Sendable {
        public let user: User
        public let session: Session
        public let refreshToken: String
        public let access: AccessTokens.Issued
    }

    private let users: any UserStore
    private let hasher: any PasswordHasher
    private let throttle: LoginThrottle
    private let sessions: SessionService
    private let tokens: AccessTokens
    private let audit: AuditTrail

    public init(
        users: any UserStore, hasher: any PasswordHasher, throttle: LoginThrottle, sessions: SessionService,
        tokens: AccessTokens, audit: AuditTrail
    ) {
        self.users = users
        self.hasher = hasher
        self.throttle = throttle
        self.sessions = sessions
        self.tokens = tokens
        self.audit = audit
    }

    /// Logs `username` in.
    /// - Throws: `.invalidRequest`, `.tooManyAttempts`, `.invalidCredentials`, `.accountDisabled`, `.unavailable`.
    public func login(
        username rawUsername: String, password: String, clientAddress: String, userAgent: String, at now: Date
    ) async throws -> Success {
        guard let username = Username.canonical(rawUsername), !password.isEmpty else {
            throw TokenGateError.invalidRequest("Both username and password are required.")
        }
        // Checked before the throttle, so an over-long password is a bad request, not a counted attempt.
        guard password.utf8.count <= Argon2idPasswordHasher.maximumPasswordBytes else {
            throw TokenGateError.invalidRequest("The password is too long.")
        }
        do {
            try await throttle.beginAttempt(username: username, address: clientAddress, at: now)
        } catch let error as TokenGateError where error.code == .tooManyAttempts {
            await audit.record(AuditEvent(kind: "login.throttled", at: now, username: username, clientAddress: clientAddress))
            throw error
        }
        let user: User?
        let isValid: Bool
        do {
            user = try await users.user(username: username)
            if let user {
                isValid = try await hasher.verify(password, against: user.passwordHash)
            } else {
                try await hasher.verifyDummy(password)
                isValid = false
            }
        } catch {
            // Hashing saturated or the store failed: this attempt proves nothing either way.
            try? await throttle.cancelAttempt(username: username, address: clientAddress)
            throw error
        }
        guard let user, isValid else {
            await audit.record(
                AuditEvent(kind: "login.failed", at: now, userID: user?.id, username: username, clientAddress: clientAddress))
            throw TokenGateError.invalidCredentials()
        }
        try await throttle.recordSuccess(username: username, address: clientAddress)
        guard !user.isDisabled else {
            await audit.record(
                AuditEvent(kind: "login.disabled", at: now, userID: user.id, username: username, clientAddress: clientAddress))
            throw TokenGateError.accountDisabled()
        }
        let current = try await rehashIfNeeded(user, password: password, at: now)
        let started = try await sessions.start(for: current, clientAddress: clientAddress, userAgent: userAgent, at: now)
        let access = try await tokens.issue(for: current, sessionID: started.session.id, at: now)
        await audit.record(
            AuditEvent(
                kind: "login.succeeded", at: now, userID: user.id, username: username, sessionID: started.session.id,
                clientAddress: clientAddress))
        return Success(user: current, session: started.session, refreshToken: started.refreshToken, access: access)
    }

    /// Re-hashes with the current parameters after a successful login; a failure here only logs.
    private func rehashIfNeeded(_ user: User, password: String, at now: Date) async throws -> User {
        guard hasher.needsRehash(user.passwordHash) else { return user }
        var updated = user
        updated.passwordHash = try await hasher.hash(password)
        updated.updatedAt = now
        try await users.update(updated)
        return updated
    }
}
