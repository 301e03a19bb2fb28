import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Receives SIGTERM, SIGINT and SIGHUP on one dedicated thread via `sigwait`, so no signal
/// handler ever runs on a worker (libfcgi would otherwise turn SIGTERM into a flag and keep
/// blocking in `accept`).
public enum SignalWaiter {
    /// A signal the process reacts to.
    public enum Event: Sendable {
        case stop(signal: Int32)
        case reload
    }

    /// Blocks the signals in the calling thread and in every thread it creates afterwards.
    /// Call it first thing in `main`, before any thread starts.
    public static func blockSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts the thread that waits for signals and calls `handler` for each.
    public static func start(_ handler: @escaping @Sendable (Event) -> Void) {
        let thread = Thread {
            var set = signalSet()
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                handler(received == SIGHUP ? .reload : .stop(signal: received))
            }
        }
        thread.name = "tokengate-signals"
        thread.start()
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }
}
