public import TokenGateHTTP

/// One route: method, path and the code that answers it.
public struct Endpoint: Sendable {
    public typealias Handler = @Sendable (Request, RequestContext) async throws -> Response

    public let method: Method
    public let path: String
    public let handler: Handler

    public init(_ method: Method, _ path: String, handler: @escaping Handler) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}
