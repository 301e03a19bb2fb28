public import Foundation
internal import GRDB
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
/// timeout for the write lock.
public final class SQLiteDatabase: Sendable {
    /// The path of the database file.
    public let path: String

    let pool: DatabasePool

    /// The directory removed when this database goes away; set only by `temporary()`.
    private let temporaryDirectory: URL?

    /// Opens, or creates, the database at `path`, and applies pending migrations unless `migrating` is false.
    ///
    /// - Parameters:
    ///   - path: The file path. Its directory must exist.
    ///   - busyTimeout: Seconds a write waits for another process's write lock before failing as
    ///     `.unavailable`; `0` fails at once.
    ///   - migrating: Whether to apply pending migrations now (`tokengate migrate` passes `false`
    ///     and calls `migrate()` to report what it applied).
    /// - Throws: `TokenGateError` `.unavailable` when the file cannot be opened or written, `.internalError` otherwise.
    public convenience init(path: String, busyTimeout: TimeInterval = 5, migrating: Bool = true) throws {
        try self.init(path: path, busyTimeout: busyTimeout, migrating: migrating, temporaryDirectory: nil)
    }

    private init(path: String, busyTimeout: TimeInterval, migrating: Bool, temporaryDirectory: URL?) throws {
        var configuration = Configuration()
        configuration.label = "tokengate"
        configuration.journalMode = .wal
        configuration.foreignKeysEnabled = true
        configuration.busyMode = busyTimeout > 0 ? .timeout(busyTimeout) : .immediateError
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB switches a WAL database to `synchronous = NORMAL`, which may lose the last
            // commits on power loss. DESIGN §4 requires that a refresh rotation be on disk before
            // its response is written (a lost rotation would bring a spent token back, or lose the
            // one the client holds), so every commit fsyncs the WAL. Only the writer connection
            // commits, and it lives as long as the pool, so setting it once is enough.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            if migrating {
                try Self.migrator.migrate(pool)
            }
            self.pool = pool
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
            migrating: true, temporaryDirectory: directory)
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
    func write<T: Sendable>(
        conflictMessage: String = SQLiteErrorTranslation.defaultConflictMessage,
        _ body: @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                try db.inImmediateTransaction(body)
            }
        } catch {
            throw SQLiteErrorTranslation.translate(error, conflictMessage: conflictMessage)
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
