import Synchronization

/// Per-request facts that endpoints learn and the request log line reports.
public final class RequestContext: Sendable {
    private let identity = Mutex<(userID: String?, sessionID: String?)>((nil, nil))
    private let recordedOutcome = Mutex<String?>(nil)

    /// The route template being served (`/login`), or `unmatched`.
    public let route: String

    public init(route: String) {
        self.route = route
    }

    /// Records who the request was made by, for the log line.
    public func identify(userID: String?, sessionID: String?) {
        identity.withLock { $0 = (userID, sessionID) }
    }

    /// An endpoint's outcome when the status alone does not tell it (a form post answers 303 either way).
    var outcome: String? {
        get { recordedOutcome.withLock { $0 } }
        set { recordedOutcome.withLock { $0 = newValue } }
    }

    var userID: String? { identity.withLock { $0.userID } }
    var sessionID: String? { identity.withLock { $0.sessionID } }
}
