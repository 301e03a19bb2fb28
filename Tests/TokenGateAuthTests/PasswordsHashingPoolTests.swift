import Dispatch
import Synchronization
import Testing
import TokenGateAuth

@Suite struct HashingPoolTests {
    struct Boom: Error {}

    /// Running and peak job counts, updated from the pool's threads.
    final class Concurrency: Sendable {
        private let counts = Mutex((running: 0, peak: 0))
        func enter() {
            counts.withLock {
                $0.running += 1
                $0.peak = max($0.peak, $0.running)
            }
        }
        func leave() { counts.withLock { $0.running -= 1 } }
        var peak: Int { counts.withLock { $0.peak } }
    }

    /// Yields until `condition` holds; the suite's time limit catches a hang.
    func waitUntil(_ condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test(.timeLimit(.minutes(1)))
    func runsAtMostThreadCountJobsAtOnce() async throws {
        let pool = HashingPool(threadCount: 2, maxQueued: 16)
        let gate = DispatchSemaphore(value: 0)
        let concurrency = Concurrency()
        let jobs = (0..<6).map { index in
            Task {
                try await pool.run {
                    concurrency.enter()
                    defer { concurrency.leave() }
                    gate.wait()
                    return index
                }
            }
        }
        await waitUntil { pool.busyThreads == 2 && pool.queuedJobs == 4 }
        #expect(concurrency.peak == 2)
        for _ in jobs { gate.signal() }
        var results: [Int] = []
        for job in jobs { results.append(try await job.value) }
        #expect(results == Array(0..<6))
        #expect(concurrency.peak <= pool.threadCount)
        #expect(pool.busyThreads == 0 && pool.queuedJobs == 0)
        await pool.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func rejectsImmediatelyWhenTheQueueIsFull() async throws {
        let pool = HashingPool(threadCount: 1, maxQueued: 1)
        let gate = DispatchSemaphore(value: 0)
        let running = Task {
            try await pool.run {
                gate.wait()
                return "running"
            }
        }
        let queued = Task {
            try await pool.run {
                gate.wait()
                return "queued"
            }
        }
        await waitUntil { pool.busyThreads == 1 && pool.queuedJobs == 1 }

        let error = await #expect(throws: TokenGateError.self) { try await pool.run { "rejected" } }
        #expect(error?.code == .unavailable)
        #expect(error?.retryAfter == 1)
        #expect(error?.message == "Too many logins are being processed; try again shortly.")

        gate.signal()
        gate.signal()
        #expect(try await running.value == "running")
        #expect(try await queued.value == "queued")
        #expect(try await pool.run { "accepted again" } == "accepted again")
        await pool.shutdown()
    }

    @Test func keepsWorkingAfterAJobThrows() async throws {
        let pool = HashingPool(threadCount: 1, maxQueued: 0)
        await #expect(throws: Boom.self) { try await pool.run { () throws -> Int in throw Boom() } }
        #expect(try await pool.run { 40 + 2 } == 42)
        #expect(pool.busyThreads == 0)
        await pool.shutdown()
    }

    @Test(.timeLimit(.minutes(1)))
    func shutdownFinishesAcceptedJobsThenRefusesNewOnes() async throws {
        let pool = HashingPool(threadCount: 1, maxQueued: 4)
        let gate = DispatchSemaphore(value: 0)
        let jobs = (0..<3).map { index in
            Task {
                try await pool.run {
                    gate.wait()
                    return index
                }
            }
        }
        await waitUntil { pool.busyThreads + pool.queuedJobs == 3 }

        let stopping = Task { await pool.shutdown() }
        for _ in jobs { gate.signal() }
        for (index, job) in jobs.enumerated() { #expect(try await job.value == index) }
        await stopping.value
        await pool.shutdown()  // idempotent

        let error = await #expect(throws: TokenGateError.self) { try await pool.run { 1 } }
        #expect(error?.code == .unavailable)
    }

    @Test func defaultsFollowTheProcessorCount() async {
        let pool = HashingPool()
        #expect(pool.threadCount >= 1)
        #expect(pool.maxQueued == 4 * pool.threadCount)
        await pool.shutdown()
    }
}
