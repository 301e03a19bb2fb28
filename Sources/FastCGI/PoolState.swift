import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Shared state of the worker pool: stop flag, per-worker activity and the accept lock.
///
/// `@unchecked Sendable`: every mutable field is read and written only while holding `condition`.
final class PoolState: @unchecked Sendable {
    enum Activity {
        /// Waiting for a request; `fd` is the kept-alive connection it reads, or -1 while in `accept`.
        case idle(fd: Int32)
        case busy
        case exited
    }

    private let condition = NSCondition()
    private var activities: [Activity]
    private var isStopRequested = false
    /// Serialises `accept` on the listening socket (libfcgi's own advice for threaded servers).
    let acceptLock = NSLock()

    init(workers: Int) {
        activities = Array(repeating: .idle(fd: -1), count: workers)
    }

    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return isStopRequested
    }

    var busyCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return activities.count { if case .busy = $0 { true } else { false } }
    }

    func requestStop() {
        condition.lock()
        isStopRequested = true
        condition.broadcast()
        condition.unlock()
    }

    func waitForStopRequest() {
        condition.lock()
        while !isStopRequested { condition.wait() }
        condition.unlock()
    }

    /// Records what worker `index` is doing. Returns `false` when it should stop instead.
    func set(_ index: Int, _ activity: Activity) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        activities[index] = activity
        condition.broadcast()
        if case .idle = activity { return !isStopRequested }
        return true
    }

    /// Whether a worker may keep its connection open after a response. A worker on a kept-alive
    /// connection serves nobody else until nginx reuses or closes it, so it keeps the
    /// connection only while at least `reserve` other workers wait in `accept` — new
    /// connections (every auth_request subrequest opens one) never queue behind idle ones.
    func mayKeepAlive(reserve: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let accepting = activities.count { if case .idle(let fd) = $0, fd < 0 { true } else { false } }
        return accepting >= reserve
    }

    /// Wakes workers that wait on an idle kept-alive connection; busy ones finish first.
    func closeIdleConnections() {
        condition.lock()
        defer { condition.unlock() }
        for activity in activities {
            if case .idle(let fd) = activity, fd >= 0 {
                _ = shutdown(fd, Int32(SHUT_RDWR))
            }
        }
    }

    private var allExited: Bool {
        activities.allSatisfy { if case .exited = $0 { true } else { false } }
    }

    /// Waits until every worker exited, or the timeout passed.
    func waitForWorkers(timeout: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(
            Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while !allExited {
            if !condition.wait(until: deadline) { return allExited }
        }
        return true
    }
}
