public import Foundation
internal import PostgresNIO
public import TokenGateAuth

/// `ThrottleStore` on a `PostgresBackend` (table `throttle_counters`), shared by every node.
///
/// `update` holds a transaction-scoped advisory lock per key while it reads, updates and writes
/// the counter, so concurrent failures on several nodes are all counted — also for a key that
/// has no row yet, which a row lock could not cover.
///
/// ```swift
/// let throttle = PostgresThrottleStore(backend: backend)
/// try await throttle.update(keys: ["user:alice"]) { key, counter in ... }
/// ```
public struct PostgresThrottleStore: ThrottleStore {
    private let backend: PostgresBackend

    /// A store on `backend`.
    public init(backend: PostgresBackend) {
        self.backend = backend
    }

    /// The counters for these keys, in the order of `keys`; missing keys are absent.
    public func counters(keys: [String]) async throws -> [ThrottleCounter] {
        guard !keys.isEmpty else { return [] }
        let found = try await backend.query("SELECT * FROM throttle_counters WHERE key = ANY(\(keys))")
            .rows.map(ThrottleCounter.init(row:))
        let byKey = Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        return keys.compactMap { byKey[$0] }
    }

    /// Reads, updates and writes the counter of each key in one transaction, under per-key locks
    /// taken in sorted order (two nodes updating the same keys cannot deadlock).
    public func update(
        keys: [String], _ update: @Sendable (String, ThrottleCounter?) -> ThrottleCounter
    ) async throws {
        let logger = backend.logger
        try await backend.inTransaction { connection in
            for key in Set(keys).sorted() {
                try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
            }
            for key in keys {
                let current = try await connection.rows(
                    "SELECT * FROM throttle_counters WHERE key = \(key)", logger: logger
                ).first.map(ThrottleCounter.init(row:))
                var next = update(key, current)
                // The key is the row's identity: whatever the closure returns is stored under it.
                next.key = key
                try await connection.query(
                    """
                    INSERT INTO throttle_counters (key, failures, last_failure_at, locked_until)
                    VALUES (\(next.key), \(next.failures), \(next.lastFailureAt.unixSeconds), \(next.lockedUntil?.unixSeconds))
                    ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                        last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until
                    """, logger: logger)
            }
        }
    }

    /// Deletes the counter of `key`.
    public func reset(key: String) async throws {
        _ = try await backend.query("DELETE FROM throttle_counters WHERE key = \(key)")
    }

    /// Deletes counters whose last failure is before `before`; returns how many.
    public func purge(before: Date) async throws -> Int {
        try await backend.query("DELETE FROM throttle_counters WHERE last_failure_at < \(before.unixSeconds)")
            .metadata.rows ?? 0
    }
}
