public import Foundation

/// A security-relevant event: who, what, when, from where — never secrets.
public struct AuditEvent: Sendable, Equatable {
    /// What happened, e.g. `login.succeeded`, `refresh.reused`, `session.revoked`.
    public var kind: String
    public var at: Date
    public var userID: String?
    public var username: String?
    public var sessionID: String?
    public var clientAddress: String?
    /// A short, non-secret detail (a reason, a count).
    public var detail: String?

    public init(
        kind: String, at: Date, userID: String? = nil, username: String? = nil, sessionID: String? = nil,
        clientAddress: String? = nil, detail: String? = nil
    ) {
        self.kind = kind
        self.at = at
        self.userID = userID
        self.username = username
        self.sessionID = sessionID
        self.clientAddress = clientAddress
        self.detail = detail
    }
}

/// Where audit events are kept.
public protocol AuditStore: Sendable {
    /// Appends one event.
    func append(_ event: AuditEvent) async throws
    /// The newest events first, at most `limit`.
    func recentEvents(limit: Int) async throws -> [AuditEvent]
}
