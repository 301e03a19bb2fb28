public import Foundation

/// A login session ("family" of refresh tokens).
public struct Session: Sendable, Equatable {
    public var id: String
    public var userID: String
    public var createdAt: Date
    public var lastUsedAt: Date
    /// Renewed by each rotation, never past `absoluteExpiresAt`.
    public var idleExpiresAt: Date
    public var absoluteExpiresAt: Date
    public var revokedAt: Date?
    public var revokedReason: String?
    public var clientAddress: String
    public var userAgent: String

    public init(
        id: String, userID: String, createdAt: Date, lastUsedAt: Date, idleExpiresAt: Date,
        absoluteExpiresAt: Date, revokedAt: Date? = nil, revokedReason: String? = nil, clientAddress: String,
        userAgent: String
    ) {
        self.id = id
        self.userID = userID
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.idleExpiresAt = idleExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.revokedAt = revokedAt
        self.revokedReason = revokedReason
        self.clientAddress = clientAddress
        self.userAgent = userAgent
    }

    /// Whether the session can still be refreshed at `now`.
    public func isActive(at now: Date) -> Bool {
        revokedAt == nil && now < idleExpiresAt && now < absoluteExpiresAt
    }
}

/// A stored refresh token: only its SHA-256 is kept, never the token.
public struct RefreshTokenRecord: Sendable, Equatable {
    /// SHA-256 of the token, hex-encoded.
    public var hash: String
    public var sessionID: String
    public var issuedAt: Date
    public var spentAt: Date?
    /// Hash of the token issued when this one was spent.
    public var successorHash: String?
    /// The successor token sealed (AES-GCM) under a key derived from *this* token, so only a
    /// client holding this token can recover it during the grace window.
    public var sealedSuccessor: [UInt8]?

    public init(
        hash: String, sessionID: String, issuedAt: Date, spentAt: Date? = nil, successorHash: String? = nil,
        sealedSuccessor: [UInt8]? = nil
    ) {
        self.hash = hash
        self.sessionID = sessionID
        self.issuedAt = issuedAt
        self.spentAt = spentAt
        self.successorHash = successorHash
        self.sealedSuccessor = sealedSuccessor
    }
}
