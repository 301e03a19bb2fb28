public import Foundation

/// Counts failed logins per username (all case variants together, known or not) and per
/// client address, and refuses attempts during a lockout — before any password hashing.
///
/// ```swift
/// try await throttle.check(username: "alice", address: ip, at: now)   // throws 429
/// ...
/// await throttle.recordFailure(username: "alice", address: ip, at: now)
/// ```
public struct LoginThrottle: Sendable {
    public let policy: ThrottlePolicy
    private let store: any ThrottleStore

    public init(policy: ThrottlePolicy, store: any ThrottleStore) {
        self.policy = policy
        self.store = store
    }

    /// Throws `.tooManyAttempts` with `Retry-After` while the username or the address is locked out.
    public func check(username: String, address: String, at now: Date) async throws {
        let counters = try await store.counters(keys: [Self.userKey(username), Self.addressKey(address)])
        let waits = counters.compactMap { counter -> TimeInterval? in
            guard let lockedUntil = counter.lockedUntil, !isForgotten(counter, at: now) else { return nil }
            let wait = lockedUntil.timeIntervalSince(now)
            return wait > 0 ? wait : nil
        }
        if let longest = waits.max() {
            throw TokenGateError.tooManyAttempts(retryAfter: Int(longest.rounded(.up)))
        }
    }

    /// Counts a failed attempt against both the username and the address.
    public func recordFailure(username: String, address: String, at now: Date) async throws {
        let policy = self.policy
        let userKey = Self.userKey(username)
        try await store.update(keys: [userKey, Self.addressKey(address)]) { key, existing in
            let limit = key == userKey ? policy.userLimit : policy.addressLimit
            var failures = 1
            if let existing, now.timeIntervalSince(existing.lastFailureAt) <= TimeInterval(policy.forgetAfter) {
                failures = existing.failures + 1
            }
            let lockout = policy.lockout(failures: failures, limit: limit)
            return ThrottleCounter(
                key: key, failures: failures, lastFailureAt: now,
                lockedUntil: lockout > 0 ? now.addingTimeInterval(TimeInterval(lockout)) : nil)
        }
    }

    /// A correct password resets the username's count (never the address's).
    public func recordSuccess(username: String) async throws {
        try await store.reset(key: Self.userKey(username))
    }

    private func isForgotten(_ counter: ThrottleCounter, at now: Date) -> Bool {
        now.timeIntervalSince(counter.lastFailureAt) > TimeInterval(policy.forgetAfter)
    }

    static func userKey(_ username: String) -> String { "user:" + username }
    static func addressKey(_ address: String) -> String { "addr:" + address }
}
