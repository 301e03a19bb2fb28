public import Foundation

/// Failure counters for one throttle key (`user:<name>` or `addr:<ip>`).
public struct ThrottleCounter: Sendable, Equatable {
    public var key: String
    public var failures: Int
    public var lastFailureAt: Date
    /// Until when attempts are refused; `nil` while under the limit.
    public var lockedUntil: Date?

    public init(key: String, failures: Int, lastFailureAt: Date, lockedUntil: Date?) {
        self.key = key
        self.failures = failures
        self.lastFailureAt = lastFailureAt
        self.lockedUntil = lockedUntil
    }
}

/// Persistent throttle counters, shared by every node that uses the same store.
public protocol ThrottleStore: Sendable {
    /// The counters for these keys (missing keys are absent from the result).
    func counters(keys: [String]) async throws -> [ThrottleCounter]
    /// Atomically applies `update` to the counter of each key (`nil` when none exists yet) and stores the result.
    func update(
        keys: [String], _ update: @Sendable (String, ThrottleCounter?) -> ThrottleCounter
    ) async throws
    /// Deletes the counter of `key`.
    func reset(key: String) async throws
    /// Deletes counters whose last failure is older than `before`.
    func purge(before: Date) async throws -> Int
}
