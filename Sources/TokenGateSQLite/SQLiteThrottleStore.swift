public import Foundation
internal import GRDB
public import TokenGateAuth

/// `ThrottleStore` on a `SQLiteDatabase` (table `throttle_counters`).
///
/// ```swift
/// let throttle = SQLiteThrottleStore(database: database)
/// try await throttle.update(keys: ["user:alice", "addr:192.0.2.1"]) { key, counter in ... }
/// ```
public struct SQLiteThrottleStore: ThrottleStore {
    private let database: SQLiteDatabase

    /// A store on `database`.
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// The counters for these keys, in the order of `keys`; missing keys are absent.
    public func counters(keys: [String]) async throws -> [ThrottleCounter] {
        guard !keys.isEmpty else { return [] }
        let found = try await database.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM throttle_counters WHERE key IN (\(databaseQuestionMarks(count: keys.count)))",
                arguments: StatementArguments(keys)
            ).map(ThrottleCounter.init(row:))
        }
        let byKey = Dictionary(found.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        return keys.compactMap { byKey[$0] }
    }

    /// Reads, updates and writes the counter of each key in one immediate transaction, so
    /// concurrent failures are all counted.
    public func update(
        keys: [String], _ update: @Sendable (String, ThrottleCounter?) -> ThrottleCounter
    ) async throws {
        try await database.write { db in
            for key in keys {
                let current = try Row.fetchOne(
                    db, sql: "SELECT * FROM throttle_counters WHERE key = ?", arguments: [key]
                )
                .map(ThrottleCounter.init(row:))
                var next = update(key, current)
                // The key is the row's identity: whatever the closure returns is stored under it.
                next.key = key
                try db.execute(
                    sql: """
                        INSERT INTO throttle_counters (key, failures, last_failure_at, locked_until)
                        VALUES (?, ?, ?, ?)
                        ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
                            last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until
                        """,
                    arguments: [next.key, next.failures, next.lastFailureAt.unixSeconds, next.lockedUntil?.unixSeconds])
            }
        }
    }

    /// Deletes the counter of `key`.
    public func reset(key: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM throttle_counters WHERE key = ?", arguments: [key])
        }
    }

    /// Deletes counters whose last failure is before `before`; returns how many.
    public func purge(before: Date) async throws -> Int {
        try await database.write { db in
            try db.execute(
                sql: "DELETE FROM throttle_counters WHERE last_failure_at < ?", arguments: [before.unixSeconds])
            return db.changesCount
        }
    }
}
