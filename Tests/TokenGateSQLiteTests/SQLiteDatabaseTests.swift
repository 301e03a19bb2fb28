import Dispatch
import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct SQLiteDatabaseTests {
    static let tables = ["audit_events", "refresh_tokens", "sessions", "throttle_counters", "users"]
    static let migrations = [
        "0001_create_users", "0002_create_sessions", "0003_create_refresh_tokens", "0004_create_throttle_counters",
        "0005_create_audit_events",
    ]

    @Test func openingCreatesTheSchema() async throws {
        let database = try SQLiteDatabase.temporary()
        #expect(try await database.tableNames() == Self.tables)
        #expect(SQLiteDatabase.migrationIdentifiers == Self.migrations)
        #expect(try database.appliedMigrations() == Self.migrations)
        #expect(try database.schemaVersion() == "0005_create_audit_events")
    }

    @Test func reopeningKeepsDataAndAppliesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tokengate.sqlite").path
            do {
                let database = try SQLiteDatabase(path: path)
                try await Fixtures.insertUser("alice", into: database)
            }
            let reopened = try SQLiteDatabase(path: path)
            #expect(try reopened.migrate() == [])
            #expect(try reopened.appliedMigrations() == Self.migrations)
            #expect(try await SQLiteUserStore(database: reopened).user(username: "alice") != nil)
        }
    }

    @Test func migrateReportsWhatItApplied() async throws {
        try await withTemporaryDirectory { directory in
            let database = try SQLiteDatabase(path: directory.appendingPathComponent("t.sqlite").path, migrating: false)
            #expect(try database.schemaVersion() == nil)
            #expect(try await database.tableNames() == [])
            #expect(try database.migrate() == Self.migrations)
            #expect(try database.migrate() == [])
            #expect(try await database.tableNames() == Self.tables)
        }
    }

    @Test func connectionIsWALDurableWithForeignKeys() async throws {
        let database = try SQLiteDatabase.temporary()
        let settings = try await database.settings()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 2)  // FULL
        #expect(settings.foreignKeys)
        #expect(settings.busyTimeoutMilliseconds == 5_000)
        #expect(FileManager.default.fileExists(atPath: database.path + "-wal"))
        try await database.ping()
    }

    @Test func foreignKeysAreEnforced() async throws {
        let database = try SQLiteDatabase.temporary()
        let sessions = SQLiteSessionStore(database: database)
        await #expect(throws: TokenGateError.internalError()) {
            try await sessions.transaction { tx in try tx.insert(Fixtures.session("s1", userID: "nobody")) }
        }
    }

    @Test func unopenablePathIsUnavailable() throws {
        // Tests run as root, which ignores file permissions, so a read-only file cannot be
        // produced here; a file in a missing directory gives SQLITE_CANTOPEN instead.
        let path = "/nonexistent-\(UUID().uuidString)/tokengate.sqlite"
        let error = #expect(throws: TokenGateError.self) { try SQLiteDatabase(path: path) }
        #expect(error?.code == .unavailable)
        #expect(error?.underlying != nil)
        #expect(error.map { !String(describing: $0).contains(path) } ?? false)
    }

    /// Root ignores file modes, so this runs only for other users. As root, the same SQLite path
    /// (a read-only open, then `SQLITE_READONLY`) was checked by hand with `chattr +i`.
    @Test(.enabled(if: geteuid() != 0, "root ignores file permissions"))
    func readOnlyFileIsUnavailable() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tokengate.sqlite").path
            do { _ = try SQLiteDatabase(path: path) }
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: path)
            await #expect(throws: TokenGateError.unavailable()) {
                let database = try SQLiteDatabase(path: path)
                try await Fixtures.insertUser("alice", into: database)
            }
        }
    }

    @Test func writeLockedByAnotherConnectionIsUnavailable() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("tokengate.sqlite").path
            let holder = try SQLiteDatabase(path: path)
            let other = try SQLiteDatabase(path: path, busyTimeout: 0)
            let (started, startedContinuation) = AsyncStream<Void>.makeStream()
            let release = DispatchSemaphore(value: 0)
            let holding = Task {
                try await SQLiteSessionStore(database: holder).transaction { _ in
                    startedContinuation.yield()
                    release.wait()
                }
            }
            for await _ in started { break }
            await #expect(throws: TokenGateError.unavailable()) {
                try await SQLiteAuditStore(database: other).append(AuditEvent(kind: "test", at: Fixtures.at(0)))
            }
            release.signal()
            try await holding.value
            try await SQLiteAuditStore(database: other).append(AuditEvent(kind: "test", at: Fixtures.at(0)))
        }
    }

    @Test func backupCopiesTheDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let database = try SQLiteDatabase.temporary()
            let alice = try await Fixtures.insertUser("alice", into: database)
            let copyPath = directory.appendingPathComponent("backup.sqlite").path
            try database.backup(to: copyPath)
            let copy = try SQLiteDatabase(path: copyPath)
            #expect(try await SQLiteUserStore(database: copy).user(id: alice.id) == alice)
            #expect(try copy.appliedMigrations() == Self.migrations)
        }
    }

    @Test func temporaryDatabaseIsDeletedWhenReleased() async throws {
        var database: SQLiteDatabase? = try SQLiteDatabase.temporary()
        let path = try #require(database?.path)
        #expect(FileManager.default.fileExists(atPath: path))
        database = nil
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func subsecondDatesRoundTrip() async throws {
        let database = try SQLiteDatabase.temporary()
        let at = Date(timeIntervalSince1970: 1_750_000_000.123456)
        try await SQLiteAuditStore(database: database).append(AuditEvent(kind: "test", at: at))
        let stored = try #require(try await SQLiteAuditStore(database: database).recentEvents(limit: 1).first)
        #expect(abs(stored.at.timeIntervalSince(at)) < 0.000_001)
    }
}
