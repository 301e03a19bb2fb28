/// Connection settings of a `SQLiteDatabase`, as SQLite reports them.
public struct SQLiteSettings: Sendable, Equatable {
    /// `PRAGMA journal_mode`: `wal` for a database opened by `SQLiteDatabase`.
    public var journalMode: String
    /// `PRAGMA synchronous`: `2` (FULL), so a commit is on disk before it returns.
    public var synchronous: Int
    /// `PRAGMA foreign_keys`.
    public var foreignKeys: Bool
    /// `PRAGMA busy_timeout`, in milliseconds.
    public var busyTimeoutMilliseconds: Int

    /// Creates settings; `SQLiteDatabase.settings()` reads them from the database.
    public init(journalMode: String, synchronous: Int, foreignKeys: Bool, busyTimeoutMilliseconds: Int) {
        self.journalMode = journalMode
        self.synchronous = synchronous
        self.foreignKeys = foreignKeys
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
    }
}
