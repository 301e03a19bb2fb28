public import TokenGateAuth
import TokenGateHTTP

/// `GET /.well-known/jwks.json`: every public key that may still verify.
public struct JWKSEndpoint: Sendable {
    let keys: KeyRing
    let maxAge: Int

    /// - Parameter maxAge: seconds clients may cache the set; keep it below the time a new key
    ///   waits before it signs, so verifiers always know a key before they see its tokens.
    public init(keys: KeyRing, maxAge: Int = 300) {
        self.keys = keys
        self.maxAge = maxAge
    }

    public var endpoint: Endpoint {
        Endpoint(.get, "/.well-known/jwks.json") { _, _ in
            var headers = Headers()
            headers["Cache-Control"] = "public, max-age=\(maxAge)"
            var response = Response.json(.ok, keys.jwks, headers: headers)
            response.headers["Content-Type"] = "application/jwk-set+json"
            return response
        }
    }
}
