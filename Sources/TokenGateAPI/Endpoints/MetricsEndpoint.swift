import TokenGateHTTP

/// `GET /metrics`: the Prometheus text exposition. nginx keeps it internal (127.0.0.1 only).
public struct MetricsEndpoint: Sendable {
    let exposition: @Sendable () -> [UInt8]

    /// - Parameter exposition: renders the current metrics (the app owns the registry).
    public init(exposition: @escaping @Sendable () -> [UInt8]) {
        self.exposition = exposition
    }

    public var endpoint: Endpoint {
        Endpoint(.get, "/metrics") { _, _ in
            var headers = Headers()
            headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
            headers["Cache-Control"] = "no-store"
            return Response(status: .ok, headers: headers, body: exposition())
        }
    }
}
