internal import PostgresNIO
import TokenGateAuth

/// Turns what postgres-nio throws into `TokenGateError`, so no `PSQLError` leaves this module.
enum PostgresErrorTranslation {
    /// The message of a `.conflict` when the caller gives none.
    static let defaultConflictMessage = "The record already exists."

    /// The error to rethrow for `error`:
    /// - `TokenGateError` and `CancellationError` unchanged;
    /// - SQLSTATE 23505 (unique violation): `.conflict(conflictMessage)`;
    /// - the server unreachable, shutting down, out of resources, or a serialisation failure or
    ///   deadlock (class 08, 53, 57, 40): `.unavailable`, so clients retry;
    /// - connection and pool failures (no server answer at all): `.unavailable`;
    /// - anything else (other constraints, decoding errors, this module's own checks): `.internalError`.
    static func translate(_ error: any Error, conflictMessage: String = defaultConflictMessage) -> any Error {
        switch error {
        case is TokenGateError, is CancellationError:
            return error
        case let error as PSQLError:
            return translate(error, conflictMessage: conflictMessage)
        case is PostgresDecodingError, is PostgresStoreFailure:
            return TokenGateError.internalError(underlying: error)
        default:
            // Pool errors (circuit breaker open, shut down) and channel/IO errors: no usable server.
            return TokenGateError.unavailable("The database is unreachable.", underlying: error)
        }
    }

    private static func translate(_ error: PSQLError, conflictMessage: String) -> any Error {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "23505" {
                return TokenGateError.conflict(conflictMessage)
            }
            if ["08", "40", "53", "57"].contains(String(state.prefix(2))) {
                return TokenGateError.unavailable("The database cannot serve this now.", underlying: error)
            }
            return TokenGateError.internalError(underlying: error)
        case .messageDecodingFailure, .invalidCommandTag, .tooManyParameters, .unexpectedBackendMessage:
            return TokenGateError.internalError(underlying: error)
        default:
            return TokenGateError.unavailable("The database is unreachable.", underlying: error)
        }
    }
}

/// An inconsistency found by this module itself (not by PostgreSQL); wrapped in `TokenGateError.internalError`.
struct PostgresStoreFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
