import Foundation
internal import GRDB
import TokenGateAuth

// Mapping between rows and the domain models. Dates are stored as UTC unix seconds (`DOUBLE PRECISION`); pass
// `unixSeconds` explicitly, because GRDB would otherwise store a `Date` as text.

extension Date {
    /// This date as the stored column value: seconds since 1970-01-01 UTC.
    var unixSeconds: Double { timeIntervalSince1970 }
}

extension Row {
    /// The date stored as unix seconds in `column`.
    func date(_ column: String) throws -> Date {
        Date(timeIntervalSince1970: try decode(Double.self, forColumn: column))
    }

    /// The date stored as unix seconds in `column`, or `nil` for NULL.
    func optionalDate(_ column: String) throws -> Date? {
        try decode(Double?.self, forColumn: column).map(Date.init(timeIntervalSince1970:))
    }
}

extension User {
    init(row: Row) throws {
        self.init(
            id: try row.decode(String.self, forColumn: "id"),
            username: try row.decode(String.self, forColumn: "username"),
            name: try row.decode(String.self, forColumn: "name"),
            roles: try RolesColumn.decode(try row.decode(String.self, forColumn: "roles")),
            passwordHash: try row.decode(String.self, forColumn: "password_hash"),
            isDisabled: try row.decode(Bool.self, forColumn: "disabled"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}

extension Session {
    init(row: Row) throws {
        self.init(
            id: try row.decode(String.self, forColumn: "id"),
            userID: try row.decode(String.self, forColumn: "user_id"),
            createdAt: try row.date("created_at"),
            lastUsedAt: try row.date("last_used_at"),
            idleExpiresAt: try row.date("idle_expires_at"),
            absoluteExpiresAt: try row.date("absolute_expires_at"),
            revokedAt: try row.optionalDate("revoked_at"),
            revokedReason: try row.decode(String?.self, forColumn: "revoked_reason"),
            clientAddress: try row.decode(String.self, forColumn: "client_address"),
            userAgent: try row.decode(String.self, forColumn: "user_agent"))
    }

    static func fetchOne(_ db: Database, id: String) throws -> Session? {
        try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(Session.init(row:))
    }
}

extension RefreshTokenRecord {
    init(row: Row) throws {
        self.init(
            hash: try row.decode(String.self, forColumn: "hash"),
            sessionID: try row.decode(String.self, forColumn: "session_id"),
            issuedAt: try row.date("issued_at"),
            spentAt: try row.optionalDate("spent_at"),
            successorHash: try row.decode(String?.self, forColumn: "successor_hash"),
            sealedSuccessor: try row.decode(Data?.self, forColumn: "sealed_successor").map { [UInt8]($0) })
    }
}

extension ThrottleCounter {
    init(row: Row) throws {
        self.init(
            key: try row.decode(String.self, forColumn: "key"),
            failures: try row.decode(Int.self, forColumn: "failures"),
            lastFailureAt: try row.date("last_failure_at"),
            lockedUntil: try row.optionalDate("locked_until"))
    }
}

extension AuditEvent {
    init(row: Row) throws {
        self.init(
            kind: try row.decode(String.self, forColumn: "kind"),
            at: try row.date("at"),
            userID: try row.decode(String?.self, forColumn: "user_id"),
            username: try row.decode(String?.self, forColumn: "username"),
            sessionID: try row.decode(String?.self, forColumn: "session_id"),
            clientAddress: try row.decode(String?.self, forColumn: "client_address"),
            detail: try row.decode(String?.self, forColumn: "detail"))
    }

    /// Inserts this event; shared by `SQLiteAuditStore` and session transactions.
    func insert(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO audit_events (kind, at, user_id, username, session_id, client_address, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [kind, at.unixSeconds, userID, username, sessionID, clientAddress, detail])
    }
}
