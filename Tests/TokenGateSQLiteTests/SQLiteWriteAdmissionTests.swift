import Dispatch
import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

/// Writes behind a lock held by another connection (another process, in production): each
/// request's wait is bounded by one busy timeout, queue included; beyond `maxInFlightWrites` a
/// write fails at once; `checkHealth()` reports the refusal until a write succeeds again.
@Suite struct SQLiteWriteAdmissionTests {
    /// Holds the write lock of the database at `path` until the returned closure is called.
    private func holdWriteLock(
        on path: String
    ) async throws -> (release: @Sendable () -> Void, task: Task<Void, any Error>) {
        let holder = try SQLiteDatabase(path: path)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let release = DispatchSemaphore(value: 0)
        let task = Task {
            try await SQLiteSessionStore(database: holder).transaction { _ in
                startedContinuation.yield()
                release.wait()
            }
        }
        for await _ in started { break }
        return ({ release.signal() }, task)
    }

    private func audit(_ database: SQLiteDatabase) async throws {
        try await SQLiteAuditStore(database: database).append(AuditEvent(kind: "test", at: Fixtures.at(0)))
    }

    @Test func queuedWritesShareOneBusyTimeoutInsteadOfWaitingOneEach() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tokengate.sqlite").path
            let other = try SQLiteDatabase(path: path, busyTimeout: 0.5, maxInFlightWrites: 16)
            let lock = try await holdWriteLock(on: path)
            let started = ContinuousClock.now
            // Six writes queued on one writer: unbounded, the last would wait 6 × 0.5 s.
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        do {
                            try await audit(other)
                            return false
                        } catch let error as TokenGateError {
                            return error.code == .unavailable
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            lock.release()
            try await lock.task.value
            #expect(outcomes == Array(repeating: true, count: 6))
            #expect(elapsed < .seconds(2), "6 queued writes took \(elapsed)")
            await #expect(throws: TokenGateError.unavailable()) { try await other.checkHealth() }
            try await audit(other)
            try await other.checkHealth()
        }
    }

    @Test func writesBeyondTheBoundFailAtOnce() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tokengate.sqlite").path
            let other = try SQLiteDatabase(path: path, busyTimeout: 5, maxInFlightWrites: 1)
            let lock = try await holdWriteLock(on: path)
            try await withThrowingTaskGroup(of: (succeeded: Bool, elapsed: Duration).self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let started = ContinuousClock.now
                        do {
                            try await audit(other)
                            return (true, ContinuousClock.now - started)
                        } catch let error as TokenGateError where error.code == .unavailable {
                            return (false, ContinuousClock.now - started)
                        }
                    }
                }
                // One write is admitted and waits for the lock; the other is refused at once.
                let refused = try #require(try await group.next())
                #expect(!refused.succeeded)
                #expect(refused.elapsed < .seconds(1))
                lock.release()
                let admitted = try #require(try await group.next())
                #expect(admitted.succeeded)
            }
            try await lock.task.value
            // A refusal for load is not a store failure: health stays good.
            try await other.checkHealth()
        }
    }
}
