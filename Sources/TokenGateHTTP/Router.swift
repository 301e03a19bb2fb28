/// Maps a method and an exact path to a handler, and tells "no such path" from "wrong method".
///
/// ```swift
/// var router = Router<MyHandler>()
/// router.add(.post, "/login", handler: login)
/// switch router.resolve(.get, "/login") {
/// case .found(let handler): ...
/// case .methodNotAllowed(let allowed): ...   // ["POST"]
/// case .notFound: ...
/// }
/// ```
public struct Router<Handler: Sendable>: Sendable {
    /// What a lookup found.
    public enum Resolution: Sendable {
        /// The handler for this method and path.
        case found(Handler)
        /// The path exists but not for this method; `allowed` lists the methods that do.
        case methodNotAllowed(allowed: [Method])
        /// No route has this path.
        case notFound
    }

    private var routes: [String: [(method: Method, handler: Handler)]] = [:]
    private var getOnly: Set<String> = []

    /// Creates an empty router.
    public init() {}

    /// Adds a route. A `GET` route also answers `HEAD` unless `answersHead` is false (a GET with
    /// side effects, such as a navigation refresh, must not run for a HEAD probe).
    public mutating func add(_ method: Method, _ path: String, answersHead: Bool = true, handler: Handler) {
        routes[path, default: []].append((method: method, handler: handler))
        if method == .get && !answersHead { getOnly.insert(path) }
    }

    /// Finds the handler for `method` and `path`.
    public func resolve(_ method: Method, _ path: String?) -> Resolution {
        guard let path, let candidates = routes[path] else { return .notFound }
        if let match = candidates.first(where: { $0.method == method }) {
            return .found(match.handler)
        }
        if method == .head, !getOnly.contains(path), let match = candidates.first(where: { $0.method == .get }) {
            return .found(match.handler)
        }
        var allowed = candidates.map(\.method)
        if allowed.contains(.get) && !allowed.contains(.head) && !getOnly.contains(path) { allowed.append(.head) }
        return .methodNotAllowed(allowed: allowed)
    }

    /// Every registered path, for logs and metrics labels.
    public var paths: [String] { Array(routes.keys).sorted() }
}

/// Something that turns a request into a response; the transport calls it on a worker thread.
public protocol Responder: Sendable {
    /// Answers one request. Implementations never throw: errors become responses.
    func respond(to request: Request) async -> Response
}
