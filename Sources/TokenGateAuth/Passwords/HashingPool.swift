internal import Dispatch
internal import Foundation
internal import Synchronization

/// The dedicated threads that run Argon2, with a bounded queue in front of them.
///
/// Hashing is CPU-bound and takes tens of milliseconds, so it must not run on the Swift cooperative pool
/// (it would stall every other task) and must not pile up without limit (a login flood would starve
/// `/verify`). When all threads are busy and `maxQueued` jobs already wait, `run(_:)` fails at once with
/// `TokenGateError` `.unavailable`; it never blocks the caller's thread. An accepted job always runs to
/// completion, even if the calling task is cancelled meanwhile.
///
/// ```swift
/// let pool = HashingPool(threadCount: 2, maxQueued: 8)
/// let digest = try await pool.run { expensiveHash(password) }
/// await pool.shutdown()
/// ```
public final class HashingPool: Sendable {
    /// The number of dedicated threads, hence the most jobs that run at once. (With Argon2 `parallelism` p > 1,
    /// libargon2 itself spawns p threads per job, so CPU use can reach `threadCount` × p cores.)
    public let threadCount: Int
    /// The most jobs that may wait for a thread while all threads are busy.
    public let maxQueued: Int
    private let core: HashingPoolCore

    /// Starts the threads.
    /// - Parameters:
    ///   - threadCount: Dedicated threads; `nil` means the number of active processors.
    ///   - maxQueued: Jobs that may wait while every thread is busy; `nil` means 4 × `threadCount`.
    ///   - name: Prefix of the threads' names, as seen in debuggers and `top -H`.
    /// - Precondition: `threadCount` ≥ 1 and `maxQueued` ≥ 0.
    public init(threadCount: Int? = nil, maxQueued: Int? = nil, name: String = "tokengate-hash") {
        let threads = threadCount ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        let queued = maxQueued ?? 4 * threads
        precondition(threads >= 1, "HashingPool needs at least one thread")
        precondition(queued >= 0, "HashingPool.maxQueued must not be negative")
        self.threadCount = threads
        self.maxQueued = queued
        self.core = HashingPoolCore(threadCount: threads, maxQueued: queued)
        for index in 0..<threads {
            // Threads retain only the core, so dropping the pool still stops them.
            let thread = Thread { [core] in core.workerLoop() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    deinit {
        core.beginShutdown()
    }

    /// Runs `work` on one of the pool's threads and resumes the caller with its result.
    /// - Throws: What `work` throws; `TokenGateError` `.unavailable` (retry after 1 s) when the queue is
    ///   full or the pool is shutting down.
    public func run<T: Sendable>(_ work: @Sendable @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let rejection = core.submit {
                continuation.resume(with: Result { try work() })
            }
            if let rejection {
                continuation.resume(throwing: rejection)
            }
        }
    }

    /// Jobs accepted but not yet started.
    public var queuedJobs: Int { core.state.withLock { $0.queue.count } }

    /// Threads currently running a job.
    public var busyThreads: Int { core.state.withLock { $0.busy } }

    /// Stops accepting jobs, lets every accepted job (running or queued) finish, and returns once all
    /// threads have exited. Calling it again waits for the same completion.
    public func shutdown() async {
        core.beginShutdown()
        await core.waitUntilStopped()
    }
}

/// The state the pool's threads share with it; kept apart so the threads do not keep the pool alive.
private final class HashingPoolCore: Sendable {
    typealias Job = @Sendable () -> Void

    struct State {
        var queue: [Job] = []
        var busy = 0
        var isStopping = false
        var liveThreads: Int
        var stopWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let state: Mutex<State>
    /// Signalled once per accepted job and once per thread at shutdown; each signal wakes one thread.
    private let wakeups = DispatchSemaphore(value: 0)
    private let threadCount: Int
    private let maxQueued: Int

    init(threadCount: Int, maxQueued: Int) {
        self.threadCount = threadCount
        self.maxQueued = maxQueued
        self.state = Mutex(State(liveThreads: threadCount))
    }

    /// Queues `job`, or returns the error to fail the caller with.
    func submit(_ job: @escaping Job) -> TokenGateError? {
        let rejection: TokenGateError? = state.withLock { state in
            if state.isStopping {
                return .unavailable("The service is shutting down.", retryAfter: 1)
            }
            // Running plus waiting jobs never exceed the threads plus the queue bound.
            if state.queue.count + state.busy >= threadCount + maxQueued {
                return .unavailable("Too many logins are being processed; try again shortly.", retryAfter: 1)
            }
            state.queue.append(job)
            return nil
        }
        if rejection == nil { wakeups.signal() }
        return rejection
    }

    /// The body of each pool thread: runs jobs until shutdown finds the queue empty.
    func workerLoop() {
        while true {
            wakeups.wait()
            let job: Job? = state.withLock { state in
                guard !state.queue.isEmpty else { return nil }
                state.busy += 1
                return state.queue.removeFirst()
            }
            // Signals outnumber jobs only after shutdown began, so an empty queue means "stop".
            guard let job else { break }
            job()
            state.withLock { $0.busy -= 1 }
        }
        let waiters = state.withLock { state in
            state.liveThreads -= 1
            guard state.liveThreads == 0 else { return [CheckedContinuation<Void, Never>]() }
            defer { state.stopWaiters = [] }
            return state.stopWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Refuses new jobs and wakes every thread once more so each can exit after the queue drains.
    func beginShutdown() {
        let wasStopping = state.withLock { state in
            defer { state.isStopping = true }
            return state.isStopping
        }
        guard !wasStopping else { return }
        for _ in 0..<threadCount { wakeups.signal() }
    }

    /// Returns once every thread has exited.
    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = state.withLock { state in
                if state.liveThreads == 0 { return true }
                state.stopWaiters.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }
}
