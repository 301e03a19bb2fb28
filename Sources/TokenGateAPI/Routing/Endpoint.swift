public import TokenGateHTTP

/// One route: method, path and the code that answers it.
public struct Endpoint: Sendable {
    public typealias Handler = @Sendable (Request, RequestContext) async throws -> Response

    public let method: Method
    public let path: String
    public let handler: Handler
    /// Whether a GET endpoint also answers HEAD (false for GETs with side effects).
    public let answersHead: Bool

    public init(_ method: Method, _ path: String, answersHead: Bool = true, handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.answersHead = answersHead
        self.handler = handler
    }
}
