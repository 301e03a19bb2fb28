public import Logging

/// Records audit events in the store and as log lines (`tokengate.audit`).
public struct AuditTrail: Sendable {
    private let store: any AuditStore
    private let logger: Logger

    public init(store: any AuditStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Stores and logs `event`. A store failure is logged, never thrown: auditing must not
    /// turn a successful login into an error, and the log line still carries the event.
    public func record(_ event: AuditEvent) async {
        log(event)
        do {
            try await store.append(event)
        } catch {
            logger.error("audit event not stored", metadata: ["audit.kind": "\(event.kind)", "error": "\(error)"])
        }
    }

    /// Logs an event that was already stored (for example inside a session transaction).
    public func log(_ event: AuditEvent) {
        var metadata: Logger.Metadata = ["audit.kind": "\(event.kind)"]
        if let userID = event.userID { metadata["user.id"] = "\(userID)" }
        if let username = event.username { metadata["user.name"] = "\(username)" }
        if let sessionID = event.sessionID { metadata["session.id"] = "\(sessionID)" }
        if let address = event.clientAddress { metadata["client.address"] = "\(address)" }
        if let detail = event.detail { metadata["audit.detail"] = "\(detail)" }
        logger.notice("audit", metadata: metadata)
    }
}
