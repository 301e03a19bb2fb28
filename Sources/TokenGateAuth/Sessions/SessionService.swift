public import Foundation

/// Sessions and their refresh tokens: start, rotate with reuse detection, revoke.
///
/// ```swift
/// let started = try await sessions.start(for: user, clientAddress: "203.0.113.9", userAgent: "curl", at: now)
/// let rotation = try await sessions.rotate(started.refreshToken, clientAddress: "203.0.113.9", at: later)
/// ```
public struct SessionService: Sendable {
    /// A new session and the refresh token handed to the client.
    public struct Started: Sendable {
        public let session: Session
        public let refreshToken: String
    }

    /// The outcome of a successful refresh.
    public struct Rotation: Sendable {
        /// The session as it stands after the rotation (last use and idle expiry renewed).
        public let session: Session
        public let refreshToken: String
        /// Whether this was a replay within the grace window (same successor returned).
        public let isReplay: Bool
    }

    private enum Outcome: Sendable {
        case rotated(Session, String)
        case replayed(Session, String)
        case reused(Session)
    }

    public let policy: SessionPolicy
    private let store: any SessionStore
    private let revocations: RevocationList
    private let audit: AuditTrail

    public init(policy: SessionPolicy, store: any SessionStore, revocations: RevocationList, audit: AuditTrail) {
        self.policy = policy
        self.store = store
        self.revocations = revocations
        self.audit = audit
    }

    /// Starts a session for `user`; commits before returning.
    public func start(for user: User, clientAddress: String, userAgent: String, at now: Date) async throws -> Started {
        let token = RefreshToken.generate()
        let absolute = now.addingTimeInterval(TimeInterval(policy.absoluteTTL))
        let session = Session(
            id: UUID().uuidString.lowercased(), userID: user.id, createdAt: now, lastUsedAt: now,
            idleExpiresAt: policy.idleExpiry(from: now, absoluteExpiry: absolute),
            absoluteExpiresAt: absolute, clientAddress: String(clientAddress.prefix(64)),
            userAgent: String(userAgent.prefix(256)))
        try await store.transaction { tx in
            try tx.insert(session)
            try tx.insert(RefreshTokenRecord(hash: RefreshToken.hash(token), sessionID: session.id, issuedAt: now))
        }
        return Started(session: session, refreshToken: token)
    }

    /// Spends `presented` and returns its successor; within the grace window a spent token
    /// returns the successor it already has. A spent token after the window revokes the session.
    /// - Throws: `.refreshInvalid`, `.refreshReused`, or a store error.
    public func rotate(_ presented: String, clientAddress: String, at now: Date) async throws -> Rotation {
        guard RefreshToken.isWellFormed(presented) else { throw TokenGateError.refreshInvalid() }
        let policy = self.policy
        let outcome = try await store.transaction { tx -> Outcome in
            guard let record = try tx.refreshToken(hash: RefreshToken.hash(presented)),
                let session = try tx.session(id: record.sessionID), session.isActive(at: now)
            else { throw TokenGateError.refreshInvalid() }
            guard record.spentAt != nil else {
                let (renewed, successor) = try Self.spend(
                    record, presented: presented, session: session, policy: policy, now: now, tx: tx)
                return .rotated(renewed, successor)
            }
            if let successor = try Self.liveSuccessor(of: record, presented: presented, grace: policy.reuseGrace, now: now, tx: tx) {
                return .replayed(session, successor)
            }
            _ = try tx.revoke(sessionID: session.id, at: now, reason: "refresh_reused")
            try tx.append(
                AuditEvent(
                    kind: "refresh.reused", at: now, userID: session.userID, sessionID: session.id,
                    clientAddress: clientAddress, detail: "spent refresh token presented; session revoked"))
            return .reused(session)
        }
        switch outcome {
        case .rotated(let session, let token):
            return Rotation(session: session, refreshToken: token, isReplay: false)
        case .replayed(let session, let token):
            return Rotation(session: session, refreshToken: token, isReplay: true)
        case .reused(let session):
            revocations.insert([session.id], revokedAt: now)
            audit.log(
                AuditEvent(
                    kind: "refresh.reused", at: now, userID: session.userID, sessionID: session.id,
                    clientAddress: clientAddress))
            throw TokenGateError.refreshReused()
        }
    }

    /// Spends an unspent token, stores its successor and renews the idle expiry.
    /// - Returns: the renewed session and the successor token.
    private static func spend(
        _ record: RefreshTokenRecord, presented: String, session: Session, policy: SessionPolicy, now: Date,
        tx: any SessionTransaction
    ) throws -> (Session, String) {
        let successor = RefreshToken.generate()
        let successorHash = RefreshToken.hash(successor)
        try tx.markSpent(
            hash: record.hash, at: now, successorHash: successorHash,
            sealedSuccessor: try RefreshToken.seal(successor, under: presented))
        try tx.insert(RefreshTokenRecord(hash: successorHash, sessionID: session.id, issuedAt: now))
        var renewed = session
        renewed.lastUsedAt = now
        renewed.idleExpiresAt = policy.idleExpiry(from: now, absoluteExpiry: session.absoluteExpiresAt)
        try tx.touch(sessionID: session.id, lastUsedAt: now, idleExpiresAt: renewed.idleExpiresAt)
        return (renewed, successor)
    }

    /// Follows successors from a spent token while each was spent within the grace window,
    /// and returns the first unspent one; `nil` means the presentation is a reuse.
    private static func liveSuccessor(
        of record: RefreshTokenRecord, presented: String, grace: Int, now: Date, tx: any SessionTransaction
    ) throws -> String? {
        var current = record
        var token = presented
        for _ in 0..<16 {
            guard let spentAt = current.spentAt else { return token }
            guard now.timeIntervalSince(spentAt) <= TimeInterval(grace), let sealed = current.sealedSuccessor,
                let successorHash = current.successorHash, let next = RefreshToken.open(sealed, with: token),
                RefreshToken.hash(next) == successorHash, let nextRecord = try tx.refreshToken(hash: successorHash)
            else { return nil }
            current = nextRecord
            token = next
        }
        return nil
    }

    /// The session a refresh token belongs to, in whatever state, without spending the token (for logout).
    public func session(forRefreshToken token: String) async throws -> Session? {
        guard RefreshToken.isWellFormed(token) else { return nil }
        return try await store.transaction { tx in
            guard let record = try tx.refreshToken(hash: RefreshToken.hash(token)) else { return nil }
            return try tx.session(id: record.sessionID)
        }
    }

    /// Revokes one session at once, in the store and at the gate.
    @discardableResult
    public func revoke(sessionID: String, reason: String, event: AuditEvent) async throws -> Bool {
        let changed = try await store.transaction { tx in
            let changed = try tx.revoke(sessionID: sessionID, at: event.at, reason: reason)
            if changed { try tx.append(event) }
            return changed
        }
        revocations.insert([sessionID], revokedAt: event.at)
        if changed { audit.log(event) }
        return changed
    }

    /// Revokes every session of a user at once, in the store and at the gate.
    @discardableResult
    public func revokeAll(userID: String, reason: String, event: AuditEvent) async throws -> [String] {
        let revoked = try await store.transaction { tx in
            let ids = try tx.revokeAll(userID: userID, at: event.at, reason: reason)
            var stored = event
            stored.detail = "\(ids.count) session(s); \(event.detail ?? reason)"
            try tx.append(stored)
            return ids
        }
        revocations.insert(revoked, revokedAt: event.at)
        audit.log(event)
        return revoked
    }
}
