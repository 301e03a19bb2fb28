import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

@Suite struct SQLiteThrottleStoreTests {
    let throttle: SQLiteThrottleStore

    init() throws {
        throttle = SQLiteThrottleStore(database: try SQLiteDatabase.temporary())
    }

    /// One more failure at `seconds`, locked for a minute from the third.
    static func fail(at seconds: TimeInterval) -> @Sendable (String, ThrottleCounter?) -> ThrottleCounter {
        { key, counter in
            let failures = (counter?.failures ?? 0) + 1
            return ThrottleCounter(
                key: key, failures: failures, lastFailureAt: Fixtures.at(seconds),
                lockedUntil: failures >= 3 ? Fixtures.at(seconds + 60) : nil)
        }
    }

    @Test func updateCreatesThenChangesCounters() async throws {
        try await throttle.update(keys: ["user:alice", "addr:192.0.2.1"], Self.fail(at: 1))
        try await throttle.update(keys: ["user:alice"], Self.fail(at: 2))
        try await throttle.update(keys: ["user:alice"], Self.fail(at: 3))
        let counters = try await throttle.counters(keys: ["user:alice", "user:nobody", "addr:192.0.2.1"])
        #expect(
            counters == [
                ThrottleCounter(
                    key: "user:alice", failures: 3, lastFailureAt: Fixtures.at(3), lockedUntil: Fixtures.at(63)),
                ThrottleCounter(key: "addr:192.0.2.1", failures: 1, lastFailureAt: Fixtures.at(1), lockedUntil: nil),
            ])
        #expect(try await throttle.counters(keys: []).isEmpty)
    }

    @Test func concurrentUpdatesAreAllCounted() async throws {
        let throttle = throttle
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { try await throttle.update(keys: ["user:alice"], Self.fail(at: Double(index))) }
            }
            try await group.waitForAll()
        }
        #expect(try await throttle.counters(keys: ["user:alice"]).first?.failures == 20)
    }

    @Test func resetDeletesOneCounter() async throws {
        try await throttle.update(keys: ["user:alice", "addr:192.0.2.1"], Self.fail(at: 1))
        try await throttle.reset(key: "user:alice")
        #expect(try await throttle.counters(keys: ["user:alice", "addr:192.0.2.1"]).map(\.key) == ["addr:192.0.2.1"])
    }

    @Test func purgeDeletesCountersOlderThanTheCutoff() async throws {
        try await throttle.update(keys: ["old"], Self.fail(at: 0))
        try await throttle.update(keys: ["new"], Self.fail(at: 100))
        #expect(try await throttle.purge(before: Fixtures.at(50)) == 1)
        #expect(try await throttle.counters(keys: ["old", "new"]).map(\.key) == ["new"])
    }
}
