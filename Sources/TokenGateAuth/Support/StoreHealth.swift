/// Something whose reachability `/healthz` reports.
public protocol StoreHealth: Sendable {
    /// Throws `TokenGateError` `.unavailable` when the store cannot serve requests.
    func checkHealth() async throws
}
