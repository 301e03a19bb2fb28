import TokenGateAuth
import TokenGateHTTP

/// CSRF defence for state-changing POSTs (DESIGN §3): `Origin` must be an allowed origin
/// (default: the request's own); without `Origin`, `Sec-Fetch-Site: cross-site` is refused;
/// with neither (curl, scripts) the request is allowed.
struct OriginPolicy {
    let allowedOrigins: [String]

    func check(_ request: Request) throws {
        if let origin = request.headers.first("Origin") {
            guard origin != "null", isAllowed(origin, for: request) else { throw TokenGateError.originRejected() }
            return
        }
        if let site = request.headers.first("Sec-Fetch-Site"), site.isEqualIgnoringASCIICase("cross-site") {
            throw TokenGateError.originRejected()
        }
    }

    private func isAllowed(_ origin: String, for request: Request) -> Bool {
        if !allowedOrigins.isEmpty { return allowedOrigins.contains(origin) }
        return origin == Self.ownOrigin(of: request)
    }

    /// `scheme://host[:port]` of the request as the client addressed it.
    static func ownOrigin(of request: Request) -> String? {
        guard let host = request.headers.first("Host"), !host.isEmpty else { return nil }
        let scheme = request.params["REQUEST_SCHEME"] ?? (request.isHTTPS ? "https" : "http")
        var authority = host.lowercased()
        // Browsers omit the default port in Origin; nginx's $host keeps what the client sent.
        if scheme == "https", authority.hasSuffix(":443") { authority.removeLast(4) }
        if scheme == "http", authority.hasSuffix(":80") { authority.removeLast(3) }
        return "\(scheme)://\(authority)"
    }
}
