import FastCGI
import Metrics
import Prometheus
import TokenGateAuth

/// The Prometheus registry: swift-metrics counters and timers from the API land here, and the
/// gauges that describe the process are sampled when `/metrics` is scraped.
final class MetricsRegistry: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let busyWorkers: Prometheus.Gauge
    private let workers: Prometheus.Gauge
    private let hashingQueued: Prometheus.Gauge
    private let hashingBusy: Prometheus.Gauge
    private let revokedSessions: Prometheus.Gauge
    private let activeSessions: Prometheus.Gauge

    init() {
        busyWorkers = Self.gauge(registry, "workers_busy", "FastCGI workers handling a request")
        workers = Self.gauge(registry, "workers", "FastCGI worker threads")
        hashingQueued = Self.gauge(registry, "hashing_queued", "Logins waiting for an Argon2id thread")
        hashingBusy = Self.gauge(registry, "hashing_busy", "Argon2id threads at work")
        activeSessions = Self.gauge(
            registry, "active_sessions", "Sessions not revoked or expired (sampled once a second)")
        revokedSessions = Self.gauge(registry, "revoked_sessions", "Revoked sessions held in memory by the gate")
    }

    private static func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tokengate", metricName: name, unitName: "", helpText: help))
    }

    /// The swift-metrics backend writing into this registry (bootstrapped once by `serve`).
    var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        ]
        return factory
    }

    /// Records the active-session count measured by the revocation sync.
    func setActiveSessions(_ count: Int) {
        activeSessions.set(Double(count))
    }

    /// Samples the gauges and renders the text exposition format.
    func exposition(server: FastCGIServer?, configuredWorkers: Int, hashing: HashingPool, revocations: RevocationList) -> [UInt8] {
        busyWorkers.set(Double(server?.busyWorkers ?? 0))
        workers.set(Double(configuredWorkers))
        hashingQueued.set(Double(hashing.queuedJobs))
        hashingBusy.set(Double(hashing.busyThreads))
        revokedSessions.set(Double(revocations.count))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
