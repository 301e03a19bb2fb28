/// An HTTP request as the transport hands it to the application: already copied out of
/// the FastCGI library, immutable and `Sendable`.
public struct Request: Sendable {
    /// The request method.
    public var method: Method
    /// The path relative to the configured base path (`/auth/login` → `/login`), still
    /// percent-encoded as nginx passed it in `DOCUMENT_URI`; `nil` when the request lies
    /// outside the base path.
    public var path: String?
    /// The raw query string without `?` (may be empty).
    public var query: String
    /// Header fields sent by the client (`HTTP_*` params, plus `Content-Type` and `Content-Length`).
    public var headers: Headers
    /// The address of the client as nginx saw it (`REMOTE_ADDR`).
    public var remoteAddress: String
    /// Whether the client connection was HTTPS (`HTTPS=on`).
    public var isHTTPS: Bool
    /// Every FastCGI parameter nginx sent, such as per-location policy (`AUTH_REQUIRE_ROLES`).
    public var params: [String: String]
    /// The request body, read up to the configured limit.
    public var body: [UInt8]
    /// Whether the body was larger than the limit; it was then not read at all and `body` is empty.
    public var isBodyTooLarge: Bool

    /// Creates a request; tests build requests directly with this initialiser.
    public init(
        method: Method,
        path: String?,
        query: String = "",
        headers: Headers = Headers(),
        remoteAddress: String = "127.0.0.1",
        isHTTPS: Bool = true,
        params: [String: String] = [:],
        body: [UInt8] = [],
        isBodyTooLarge: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.isHTTPS = isHTTPS
        self.params = params
        self.body = body
        self.isBodyTooLarge = isBodyTooLarge
    }

    /// The media type of the body, lowercased and without parameters (`application/json`).
    public var mediaType: String? {
        guard let value = headers.first("Content-Type") else { return nil }
        let type = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = type.trimmingASCIIWhitespace().lowercased()
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The decoded query parameters; later duplicates follow earlier ones.
    public var queryItems: [(name: String, value: String)] {
        FormURLEncoding.decode(query)
    }

    /// The first query parameter named `name`.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The cookies the client sent, in order (`Cookie` header, possibly several fields).
    public var cookies: [(name: String, value: String)] {
        headers.all("Cookie").flatMap(CookieParser.parse)
    }

    /// The first cookie named `name` (names are case-sensitive).
    public func cookie(_ name: String) -> String? {
        cookies.first { $0.name == name }?.value
    }
}

extension StringProtocol {
    /// Removes leading and trailing spaces and tabs.
    package func trimmingASCIIWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
