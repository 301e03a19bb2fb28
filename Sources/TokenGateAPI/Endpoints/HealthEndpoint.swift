public import TokenGateAuth
import TokenGateHTTP

/// `GET /healthz`: 200 `{"status":"ok"}`, or 503 when the store is unreachable.
public struct HealthEndpoint: Sendable {
    let store: any StoreHealth

    public init(store: any StoreHealth) {
        self.store = store
    }

    /// The route.
    public var endpoint: Endpoint {
        Endpoint(.get, "/healthz") { _, _ in
            try await store.checkHealth()
            var headers = Headers()
            headers["Cache-Control"] = "no-store"
            return .json(.ok, Array("{\"status\":\"ok\"}".utf8), headers: headers)
        }
    }
}
