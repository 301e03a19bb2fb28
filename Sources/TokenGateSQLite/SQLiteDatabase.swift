public import Foundation
internal import GRDB
import Synchronization
import TokenGateAuth

/// One SQLite database file, opened in WAL mode through a GRDB `DatabasePool`, migrated on open.
///
/// Every store of this module shares one `SQLiteDatabase`:
///
/// ```swift
/// let database = try SQLiteDatabase(path: "/var/lib/tokengate/tokengate.sqlite")
/// let users = SQLiteUserStore(database: database)
/// let sessions = SQLiteSessionStore(database: database)
/// ```
///
/// The pool serialises writes in this process (one writer connection) and lets reads run
/// concurrently on snapshots; other processes on the same file (the admin CLI) wait up to the busy
/// timeout for the write lock. A write of this process gets the busy timeout as its whole
/// budget, queue included, and only `maxInFlightWrites` may wait at once (`SQLiteWriteAdmission`).
public final class SQLiteDatabase: Sendable {
    /// The path of the database file.
    public let path: String

    /// The connections in use; replaced only by `reopenAfterReadOnlyFailure()`.
    private let currentPool: Mutex<DatabasePool>
    /// When `reopenAfterReadOnlyFailure()` last opened the file.
    let lastReopenAttempt = Mutex<ContinuousClock.Instant?>(nil)
    /// Seconds a write waits for another process's lock (and the whole budget of one write).
    let busyTimeout: TimeInterval

    /// The connections in use.
    var pool: DatabasePool { currentPool.withLock { $0 } }

    /// Replaces the connections in use with what `reopen` returns, while no one can take the
    /// old ones (`reopenAfterReadOnlyFailure()`). When `reopen` throws, nothing changes.
    func replacePool(_ reopen: (DatabasePool) throws -> DatabasePool) {
        currentPool.withLock { pool in
            if let fresh = try? reopen(pool) { pool = fresh }
        }
    }

    /// The deadline and bound of this process's writes, and their recent failures.
    let admission: SQLiteWriteAdmission

    /// The busy timeout the writer connection returns to after each write.
    private let busyTimeoutMilliseconds: Int

    /// The directory removed when this database goes away; set only by `temporary()`.
    private let temporaryDirectory: URL?

    /// Opens, or creates, the database at `path`, and applies pending migrations unless `migrating` is false.
    ///
    /// - Parameters:
    ///   - path: The file path. Its directory must exist.
    ///   - busyTimeout: Seconds a write waits for another process's write lock before failing as
    ///     `.unavailable`; `0` fails at once.
    ///   - maxInFlightWrites: Writes of this process admitted at once; beyond it a write fails at
    ///     once with `.unavailable` instead of occupying its caller (a FastCGI worker) in the queue.
    ///   - migrating: Whether to apply pending migrations now (`tokengate migrate` passes `false`
    ///     and calls `migrate()` to report what it applied).
    /// - Throws: `TokenGateError` `.unavailable` when the file cannot be opened or written, `.internalError` otherwise.
    public convenience init(
        path: String, busyTimeout: TimeInterval = 5, maxInFlightWrites: Int = 64, migrating: Bool = true
    ) throws {
        try self.init(
            path: path, busyTimeout: busyTimeout, maxInFlightWrites: maxInFlightWrites, migrating: migrating,
            temporaryDirectory: nil)
    }

    private init(
        path: String, busyTimeout: TimeInterval, maxInFlightWrites: Int, migrating: Bool, temporaryDirectory: URL?
    ) throws {
        self.busyTimeout = busyTimeout
        busyTimeoutMilliseconds = Int((busyTimeout * 1000).rounded())
        admission = SQLiteWriteAdmission(
            timeout: .milliseconds(busyTimeoutMilliseconds), maxInFlight: maxInFlightWrites)
        do {
            let pool = try Self.openPool(path: path, busyTimeout: busyTimeout)
            if migrating {
                try Self.migrator.migrate(pool)
            }
            currentPool = Mutex(pool)
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
        self.path = path
        self.temporaryDirectory = temporaryDirectory
    }

    deinit {
        guard let temporaryDirectory else { return }
        try? pool.close()
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    /// A new, migrated database in a fresh temporary directory, deleted when the database is
    /// deallocated. Meant for tests.
    public static func temporary(busyTimeout: TimeInterval = 5) throws -> SQLiteDatabase {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokengate-sqlite-\(UUID().uuidString.lowercased())", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TokenGateError.unavailable("The temporary database directory cannot be created.", underlying: error)
        }
        return try SQLiteDatabase(
            path: directory.appendingPathComponent("tokengate.sqlite").path, busyTimeout: busyTimeout,
            maxInFlightWrites: 64, migrating: true, temporaryDirectory: directory)
    }

    /// Every migration this build knows, in order (`0001_create_users`, …).
    public static var migrationIdentifiers: [String] { migrator.migrations }

    /// Applies pending migrations and returns the identifiers it applied (empty when up to date).
    public func migrate() throws -> [String] {
        do {
            let before = try pool.read { try Self.migrator.appliedIdentifiers($0) }
            try Self.migrator.migrate(pool)
            return Self.migrationIdentifiers.filter { !before.contains($0) }
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
    }

    /// The migrations applied to this file, in order.
    public func appliedMigrations() throws -> [String] {
        try read { try Self.migrator.appliedMigrations($0) }
    }

    /// The identifier of the last applied migration, or `nil` for an empty database.
    public func schemaVersion() throws -> String? {
        try appliedMigrations().last
    }

    /// Copies the whole database, consistently, into the file at `destination` while it stays in
    /// use (SQLite's online backup). An existing destination database is overwritten.
    ///
    /// - Throws: `TokenGateError` `.unavailable` when the destination cannot be opened or written.
    public func backup(to destination: String) throws {
        do {
            let target = try DatabaseQueue(path: destination)
            try pool.backup(to: target)
            try target.close()
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
    }

    /// Runs a trivial query, for `/healthz`.
    ///
    /// - Throws: `TokenGateError` `.unavailable` when the file is unusable.
    public func ping() async throws {
        _ = try await read { try Int.fetchOne($0, sql: "SELECT 1") }
    }

    /// `/healthz`: the file answers a read, and the last write did not fail for a store reason
    /// (locked beyond the busy timeout, disk full, read-only, I/O error) within the last 10 s.
    /// Costs no write: a success of any request's write clears the failure.
    ///
    /// - Throws: `TokenGateError` `.unavailable` when the file is unusable or refuses writes.
    public func checkHealth() async throws {
        try await ping()
        if admission.isRefusingWrites() {
            throw TokenGateError.unavailable("The database refuses writes.")
        }
    }

    /// The names of the schema's tables (SQLite's and GRDB's own excluded), sorted.
    public func tableNames() async throws -> [String] {
        try await read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master
                    WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'
                    ORDER BY name
                    """)
        }
    }

    /// The settings in force on the writer connection, for `config check` and tests.
    public func settings() async throws -> SQLiteSettings {
        try await writeWithoutTransaction { db in
            SQLiteSettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false,
                busyTimeoutMilliseconds: try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0)
        }
    }
}

extension SQLiteDatabase {
    /// Runs `body` in an immediate write transaction, translating store errors to `TokenGateError`.
    ///
    /// The write is admitted by `admission` (or fails at once with `.unavailable`) and must begin
    /// before its deadline: the time it spent queued behind other writes is taken from the busy
    /// timeout it may then wait for SQLite's lock.
    func write<T: Sendable>(
        conflictMessage: String = SQLiteErrorTranslation.defaultConflictMessage,
        _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        let ticket: SQLiteWriteAdmission.Ticket
        do {
            ticket = try admission.admit()
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
        let restoredTimeout = busyTimeoutMilliseconds
        do {
            let result = try await pool.writeWithoutTransaction { db in
                // With no busy timeout a write never waits, so there is no deadline to keep.
                guard restoredTimeout > 0 else { return try db.inImmediateTransaction(body) }
                guard let remaining = ticket.remaining() else { throw SQLiteWriteRefusal.deadlineExceeded }
                let milliseconds = max(1, Int(remaining / .milliseconds(1)))
                try db.execute(sql: "PRAGMA busy_timeout = \(milliseconds)")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = \(restoredTimeout)") }
                return try db.inImmediateTransaction(body)
            }
            admission.finish(ticket, storeFailed: false)
            return result
        } catch {
            if let error = error as? DatabaseError, error.resultCode == .SQLITE_READONLY {
                reopenAfterReadOnlyFailure()
            }
            let translated = SQLiteErrorTranslation.translate(error, conflictMessage: conflictMessage)
            admission.finish(ticket, storeFailed: (translated as? TokenGateError)?.code == .unavailable)
            throw translated
        }
    }

    /// Runs `body` on the writer connection, outside any transaction.
    func writeWithoutTransaction<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction(body)
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
    }

    /// Runs `body` on a read-only snapshot, translating store errors to `TokenGateError`.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
    }

    /// The blocking variant of `read`, for the admin entry points that are not async.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw SQLiteErrorTranslation.translate(error)
        }
    }
}

extension Database {
    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back when it throws.
    ///
    /// GRDB's `write` also begins IMMEDIATE transactions on a writer connection; this spells it
    /// out, because rotation relies on holding the write lock before its first read.
    func inImmediateTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        var result: T?
        try inTransaction(.immediate) {
            result = try body(self)
            return .commit
        }
        guard let result else { throw SQLiteStoreFailure("The transaction committed without a result.") }
        return result
    }
}
