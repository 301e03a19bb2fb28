import Synchronization

/// Bounds what a request can spend waiting for the store's one writer, and remembers whether
/// the store refused writes recently (for `/healthz`).
///
/// GRDB runs this process's writes one at a time, and each waits up to the busy timeout for
/// SQLite's write lock. Without a bound, a lock held by another process (or a stuck disk) makes
/// the Nth queued request wait N busy timeouts while it pins a FastCGI worker, until nginx gives
/// up (504) and `/verify` finds no free worker. So every write gets one deadline for its queue
/// wait *and* its lock wait together, and at most `maxInFlight` writes may be admitted at once;
/// the others fail at once with `.unavailable` (503 + `Retry-After`), keeping workers free.
///
/// ```swift
/// let admission = SQLiteWriteAdmission(timeout: .seconds(5), maxInFlight: 8)
/// let ticket = try admission.admit()          // throws .unavailable when 8 writes are in flight
/// defer { admission.finish(ticket, storeFailed: failed) }
/// guard let budget = ticket.remaining() else { … }   // nil: the deadline passed while queued
/// ```
final class SQLiteWriteAdmission: Sendable {
    /// One admitted write: its deadline.
    struct Ticket: Sendable {
        let deadline: ContinuousClock.Instant

        /// What is left of the deadline, or `nil` once it has passed.
        func remaining(at now: ContinuousClock.Instant = .now) -> Duration? {
            let left = deadline - now
            return left > .zero ? left : nil
        }
    }

    private struct State {
        var inFlight = 0
        var lastStoreFailure: ContinuousClock.Instant?
    }

    /// The whole budget of one write: waiting behind other writes plus waiting for the lock.
    let timeout: Duration
    /// Writes admitted at once (running or queued); the next one fails at once.
    let maxInFlight: Int
    /// How long a store failure keeps `/healthz` unhealthy when no write succeeds after it.
    let failureMemory: Duration
    private let state = Mutex(State())

    init(timeout: Duration, maxInFlight: Int, failureMemory: Duration = .seconds(10)) {
        self.timeout = timeout
        self.maxInFlight = max(1, maxInFlight)
        self.failureMemory = failureMemory
    }

    /// Admits one write, or throws `.unavailable` when `maxInFlight` writes are already admitted.
    func admit(at now: ContinuousClock.Instant = .now) throws -> Ticket {
        let admitted = state.withLock { state -> Bool in
            guard state.inFlight < maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { throw SQLiteWriteRefusal.saturated }
        return Ticket(deadline: now + timeout)
    }

    /// Ends an admitted write. `storeFailed`: the store itself refused it (lock, disk full,
    /// read-only, I/O error, deadline); `false` after a success or a refusal of the write's own
    /// making (a conflict, a domain error).
    func finish(_ ticket: Ticket, storeFailed: Bool, at now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            state.inFlight -= 1
            state.lastStoreFailure = storeFailed ? now : nil
        }
    }

    /// Whether the store refused a write within `failureMemory` and none succeeded since.
    func isRefusingWrites(at now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            guard let failure = state.lastStoreFailure else { return false }
            return now - failure < failureMemory
        }
    }

    /// Writes admitted and not finished (for tests).
    var inFlight: Int { state.withLock { $0.inFlight } }
}

/// Why a write never reached SQLite; translated to `.unavailable`.
enum SQLiteWriteRefusal: Error, CustomStringConvertible {
    /// `maxInFlight` writes were already admitted.
    case saturated
    /// The deadline passed while the write waited behind others.
    case deadlineExceeded

    var description: String {
        switch self {
        case .saturated: "too many writes are waiting for the database"
        case .deadlineExceeded: "the write waited longer than its deadline for the database"
        }
    }
}
