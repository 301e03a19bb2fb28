import Synchronization

/// Per-request facts that endpoints learn and the request log line reports.
public final class RequestContext: Sendable {
    private let identity = Mutex<(userID: String?, sessionID: String?)>((nil, nil))

    /// The route template being served (`/login`), or `unmatched`.
    public let route: String

    public init(route: String) {
        self.route = route
    }

    /// Records who the request was made by, for the log line.
    public func identify(userID: String?, sessionID: String?) {
        identity.withLock { $0 = (userID, sessionID) }
    }

    var userID: String? { identity.withLock { $0.userID } }
    var sessionID: String? { identity.withLock { $0.sessionID } }
}
