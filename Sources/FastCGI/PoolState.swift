import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Shared state of the worker pool: stop flag, per-worker activity and the accept lock.
///
/// `@unchecked Sendable`: every mutable field is read and written only while holding `condition`.
final class PoolState: @unchecked Sendable {
    enum Activity {
        /// Waiting for a request; `fd` is the kept-alive connection it reads (with the socket's
        /// inode, to recognise it later), or -1 while in `accept`.
        case idle(fd: Int32, inode: UInt64 = 0)
        case busy
        case exited
    }

    private let condition = NSCondition()
    private var activities: [Activity]
    private var isStopRequested = false
    private var failed = false
    private var threads: [pthread_t?]
    /// Serialises `accept` on the listening socket (libfcgi's own advice for threaded servers).
    let acceptLock = NSLock()

    init(workers: Int) {
        activities = Array(repeating: .idle(fd: -1), count: workers)
        threads = Array(repeating: nil, count: workers)
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

    /// Whether the pool stopped because the listening socket became unusable.
    var hasFailed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return failed
    }

    /// Stops the pool because accepting is impossible (the socket is gone or not listening).
    func fail() {
        condition.lock()
        failed = true
        isStopRequested = true
        condition.broadcast()
        condition.unlock()
    }

    /// Records the thread of worker `index` so a stop can interrupt its `accept`.
    func register(_ index: Int, thread: pthread_t) {
        condition.lock()
        threads[index] = thread
        condition.unlock()
    }

    /// Interrupts workers blocked in `accept` (SIGUSR1) until none is left there, for a socket
    /// that must not be shut down. Repeats, because a worker may enter `accept` just after a signal.
    func interruptAcceptors(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            condition.lock()
            let waiting = zip(activities, threads).compactMap { activity, thread -> pthread_t? in
                if case .idle(let fd, _) = activity, fd < 0 { return thread }
                return nil
            }
            condition.unlock()
            if waiting.isEmpty { return }
            for thread in waiting { pthread_kill(thread, SIGUSR1) }
            usleep(10_000)
        }
    }

    /// Workers waiting in (or for) `accept` on the listening socket.
    var acceptingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return activities.count { if case .idle(let fd, _) = $0, fd < 0 { true } else { false } }
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
        acceptingCount >= reserve
    }

    /// Wakes workers that wait on an idle kept-alive connection; busy ones finish first.
    func closeIdleConnections() {
        condition.lock()
        defer { condition.unlock() }
        for activity in activities {
            // libfcgi may have closed that connection meanwhile and the number may now name
            // another socket: shut it down only if it is still the same socket.
            if case .idle(let fd, let inode) = activity, fd >= 0, Self.inode(of: fd) == inode {
                _ = shutdown(fd, Int32(SHUT_RDWR))
            }
        }
    }

    /// The inode of the socket behind `fd`, or 0.
    static func inode(of fd: Int32) -> UInt64 {
        var info = stat()
        return fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
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
