import Foundation
internal import GRDB
import Synchronization

extension SQLiteDatabase {
    /// Opens the connections to the file at `path`: WAL, foreign keys, the busy timeout, and
    /// `synchronous = FULL` on the writer.
    static func openPool(path: String, busyTimeout: TimeInterval) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.label = "tokengate"
        configuration.journalMode = .wal
        configuration.foreignKeysEnabled = true
        configuration.busyMode = busyTimeout > 0 ? .timeout(busyTimeout) : .immediateError
        let pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB switches a WAL database to `synchronous = NORMAL`, which may lose the last
        // commits on power loss. DESIGN §4 requires that a refresh rotation be on disk before
        // its response is written (a lost rotation would bring a spent token back, or lose the
        // one the client holds), so every commit fsyncs the WAL. Only the writer connection
        // commits, and it lives as long as the pool, so setting it once is enough.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return pool
    }

    /// SQLite opens a file it may not write (a read-only mount, a restored file with the wrong
    /// owner) read-only, and that connection stays read-only after the file becomes writable.
    /// After a write failed with `SQLITE_READONLY`, close the pool and open it again — at most
    /// once a second — so writes resume on their own once the fault is gone, without a restart.
    ///
    /// The old pool must be closed first: SQLite shares one `-shm` mapping per file among the
    /// connections of a process, and a new connection would inherit its read-only state. When the
    /// old pool is still busy, it stays in use and the next failure tries again.
    func reopenAfterReadOnlyFailure(at now: ContinuousClock.Instant = .now) {
        let isDue = lastReopenAttempt.withLock { last in
            if let last, now - last < .seconds(1) { return false }
            last = now
            return true
        }
        guard isDue else { return }
        replacePool { old in
            try old.close()
            return try Self.openPool(path: path, busyTimeout: busyTimeout)
        }
    }
}
