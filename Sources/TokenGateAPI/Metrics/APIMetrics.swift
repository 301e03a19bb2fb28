import Metrics
import Synchronization

/// The metrics the API records (through swift-metrics; the app chooses the backend).
/// Created once by the composition root; labels are small fixed sets — route templates,
/// status codes and outcomes, never users, addresses or raw URIs.
public final class APIMetrics: Sendable {
    /// The per-route metric objects a request updates, created once per route and status.
    private struct RouteSeries: Hashable {
        let route: String
        let status: Int
    }

    private let counters = Mutex<[String: Counter]>([:])
    private let requestSeries = Mutex<[RouteSeries: (count: Counter, duration: Timer)]>([:])

    public init() {}

    /// Creates the alerting counters at zero, so that `increase()` sees their first event after a
    /// start. Call once, after the metrics backend is bootstrapped.
    public func prime() {
        counter("tokengate_refresh_reuse_detections_total", []).increment(by: 0)
        counter("tokengate_throttled_total", []).increment(by: 0)
    }

    /// One request answered: `tokengate_requests_total{route,status}` and its duration. This runs
    /// for every request, `/verify` included: one lock and one lookup, no key strings built.
    func recordRequest(route: String, status: Int, duration: Duration) {
        let key = RouteSeries(route: route, status: status)
        let series = requestSeries.withLock { series in
            if let existing = series[key] { return existing }
            let created = (
                count: Counter(label: "tokengate_requests_total", dimensions: [("route", route), ("status", String(status))]),
                duration: Timer(label: "tokengate_request_duration_seconds", dimensions: [("route", route)])
            )
            series[key] = created
            return created
        }
        series.count.increment()
        series.duration.record(duration: duration)
    }

    /// A login attempt's outcome (`success`, `invalid_credentials`, `too_many_attempts`, …).
    func recordLogin(outcome: String) {
        counter("tokengate_login_attempts_total", [("outcome", outcome)]).increment()
        if outcome == "too_many_attempts" { counter("tokengate_throttled_total", []).increment() }
    }

    /// A refresh's outcome (`rotated`, `refresh_reused`, `refresh_invalid`, …).
    func recordRefresh(outcome: String) {
        counter("tokengate_refresh_total", [("outcome", outcome)]).increment()
        if outcome == "refresh_reused" { counter("tokengate_refresh_reuse_detections_total", []).increment() }
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return counters.withLock { counters in
            if let existing = counters[key] { return existing }
            let created = Counter(label: label, dimensions: dimensions)
            counters[key] = created
            return created
        }
    }
}
