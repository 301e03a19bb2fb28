public import Foundation
import Synchronization

/// Counts failed logins per username (all case variants together, known or not) and per
/// client address, and refuses attempts during a lockout — before any password hashing.
///
/// An attempt is counted as a failure *before* the password is checked, in one atomic store
/// update, so concurrent attempts see each other: N parallel guesses cannot all slip past
/// the limit. A correct password then takes the attempt back (and resets the username).
///
/// ```swift
/// try await throttle.beginAttempt(username: "alice", address: ip, at: now)   // throws 429
/// // … verify the password …
/// try await throttle.recordSuccess(username: "alice", address: ip)          // or leave it counted
/// ```
public struct LoginThrottle: Sendable {
    public let policy: ThrottlePolicy
    private let store: any ThrottleStore

    public init(policy: ThrottlePolicy, store: any ThrottleStore) {
        self.policy = policy
        self.store = store
    }

    /// Refuses the attempt with `.tooManyAttempts` (and `Retry-After`) while the username or the
    /// address is locked out; otherwise counts it as a failure until `recordSuccess` or `cancelAttempt`.
    public func beginAttempt(username: String, address: String, at now: Date) async throws {
        let policy = self.policy
        let userKey = Self.userKey(username)
        let keys = [userKey, Self.addressKey(address)]
        let outcome = AttemptOutcome()
        try await store.update(keys: keys) { key, existing in
            let current = existing.flatMap { Self.isForgotten($0, at: now, policy: policy) ? nil : $0 }
            if let current, let lockedUntil = current.lockedUntil, lockedUntil > now {
                outcome.refuse(waiting: lockedUntil.timeIntervalSince(now))
                return current
            }
            outcome.counted(key)
            let failures = (current?.failures ?? 0) + 1
            let lockout = policy.lockout(failures: failures, limit: key == userKey ? policy.userLimit : policy.addressLimit)
            return ThrottleCounter(
                key: key, failures: failures, lastFailureAt: now,
                lockedUntil: lockout > 0 ? now.addingTimeInterval(TimeInterval(lockout)) : nil)
        }
        guard let wait = outcome.refusedWait else { return }
        // One key was locked: take back what was counted on the other.
        let counted = outcome.countedKeys
        if !counted.isEmpty { try await uncount(keys: counted) }
        throw TokenGateError.tooManyAttempts(retryAfter: max(1, Int(wait.rounded(.up))))
    }

    /// A correct password: resets the username's count and takes back the address's count.
    public func recordSuccess(username: String, address: String) async throws {
        try await store.reset(key: Self.userKey(username))
        try await uncount(keys: [Self.addressKey(address)])
    }

    /// The attempt could not be judged (store or hashing unavailable): take it back on both keys.
    public func cancelAttempt(username: String, address: String) async throws {
        try await uncount(keys: [Self.userKey(username), Self.addressKey(address)])
    }

    private func uncount(keys: [String]) async throws {
        let policy = self.policy
        try await store.update(keys: keys) { key, existing in
            guard let existing, existing.failures > 0 else {
                return existing ?? ThrottleCounter(key: key, failures: 0, lastFailureAt: .distantPast, lockedUntil: nil)
            }
            let failures = existing.failures - 1
            let limit = key.hasPrefix("user:") ? policy.userLimit : policy.addressLimit
            return ThrottleCounter(
                key: key, failures: failures, lastFailureAt: existing.lastFailureAt,
                lockedUntil: failures >= limit ? existing.lockedUntil : nil)
        }
    }

    private static func isForgotten(_ counter: ThrottleCounter, at now: Date, policy: ThrottlePolicy) -> Bool {
        now.timeIntervalSince(counter.lastFailureAt) > TimeInterval(policy.forgetAfter)
    }

    static func userKey(_ username: String) -> String { "user:" + username }
    static func addressKey(_ address: String) -> String { "addr:" + address }
}

/// What happened to each key inside one atomic throttle update.
private final class AttemptOutcome: Sendable {
    private let state = Mutex<(counted: [String], wait: TimeInterval?)>(([], nil))

    func counted(_ key: String) { state.withLock { $0.counted.append(key) } }
    func refuse(waiting wait: TimeInterval) { state.withLock { $0.wait = max($0.wait ?? 0, wait) } }
    var countedKeys: [String] { state.withLock { $0.counted } }
    var refusedWait: TimeInterval? { state.withLock { $0.wait } }
}
