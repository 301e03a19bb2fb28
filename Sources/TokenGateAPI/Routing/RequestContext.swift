import Synchronization

/// Per-request facts that endpoints learn and the request log line reports.
public final class RequestContext: Sendable {
    private struct Facts {
        var userID: String?
        var sessionID: String?
        var outcome: String?
    }

    private let facts = Mutex(Facts())

    /// The route template being served (`/login`), or `unmatched`.
    public let route: String

    public init(route: String) {
        self.route = route
    }

    /// Records who the request was made by, for the log line.
    public func identify(userID: String?, sessionID: String?) {
        facts.withLock {
            $0.userID = userID
            $0.sessionID = sessionID
        }
    }

    /// An endpoint's outcome when the status alone does not tell it (a form post answers 303 either way).
    var outcome: String? {
        get { facts.withLock { $0.outcome } }
        set { facts.withLock { $0.outcome = newValue } }
    }

    /// Who made the request, as far as the endpoint found out.
    var identity: (userID: String?, sessionID: String?) {
        facts.withLock { ($0.userID, $0.sessionID) }
    }
}
