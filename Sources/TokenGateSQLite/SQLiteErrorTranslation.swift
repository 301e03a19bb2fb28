internal import GRDB
import TokenGateAuth

/// Turns what GRDB throws into `TokenGateError`, so no `DatabaseError` leaves this module.
enum SQLiteErrorTranslation {
    /// The message of a `.conflict` when the caller gives none.
    static let defaultConflictMessage = "The record already exists."

    /// The error to rethrow for `error`:
    /// - `TokenGateError` and `CancellationError` unchanged (a transaction body's own decision, a cancelled task);
    /// - a write refused before it reached SQLite (too many waiting, deadline passed): `.unavailable`;
    /// - a unique or primary-key violation: `.conflict(conflictMessage)`;
    /// - SQLite failing to reach or write the file (busy, locked, cannot open, read-only, disk
    ///   full, I/O error, out of memory): `.unavailable`, so clients retry;
    /// - anything else (other constraints, corrupt file, decoding errors): `.internalError`.
    static func translate(
        _ error: any Error, conflictMessage: String = defaultConflictMessage
    ) -> any Error {
        switch error {
        case is TokenGateError, is CancellationError:
            return error
        case let refusal as SQLiteWriteRefusal:
            return TokenGateError.unavailable("The database is busy.", underlying: refusal)
        case let error as DatabaseError:
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
                return TokenGateError.conflict(conflictMessage)
            default:
                break
            }
            switch error.resultCode {
            case .SQLITE_MISUSE where error.message == "Connection is closed":
                // A request that took the pool just before `reopenAfterReadOnlyFailure()` closed it.
                return TokenGateError.unavailable("The database is being reopened.", underlying: error)
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return TokenGateError.unavailable("The database is busy.", underlying: error)
            case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_NOMEM, .SQLITE_PERM:
                return TokenGateError.unavailable("The database cannot be used.", underlying: error)
            default:
                return TokenGateError.internalError(underlying: error)
            }
        default:
            return TokenGateError.internalError(underlying: error)
        }
    }
}
