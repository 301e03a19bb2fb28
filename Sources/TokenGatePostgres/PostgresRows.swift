import Foundation
internal import PostgresNIO
import TokenGateAuth

// Mapping between rows and the domain models, as in TokenGateSQLite/Rows.swift: dates are UTC
// unix seconds in `DOUBLE PRECISION`, booleans and counts `BIGINT`, roles a JSON array in `TEXT`.

extension Date {
    /// This date as the stored column value: seconds since 1970-01-01 UTC.
    var unixSeconds: Double { timeIntervalSince1970 }
}

extension PostgresRandomAccessRow {
    func string(_ column: String) throws -> String {
        try self[column].decode(String.self)
    }

    func optionalString(_ column: String) throws -> String? {
        try self[column].decode(String?.self)
    }

    func date(_ column: String) throws -> Date {
        Date(timeIntervalSince1970: try self[column].decode(Double.self))
    }

    func optionalDate(_ column: String) throws -> Date? {
        try self[column].decode(Double?.self).map(Date.init(timeIntervalSince1970:))
    }

    func int(_ column: String) throws -> Int {
        try self[column].decode(Int.self)
    }
}

extension User {
    init(row: PostgresRow) throws {
        let row = row.makeRandomAccess()
        self.init(
            id: try row.string("id"),
            username: try row.string("username"),
            name: try row.string("name"),
            roles: try JSONDecoder().decode([String].self, from: Data(try row.string("roles").utf8)),
            passwordHash: try row.string("password_hash"),
            isDisabled: try row.int("disabled") != 0,
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}

extension Session {
    init(row: PostgresRow) throws {
        let row = row.makeRandomAccess()
        self.init(
            id: try row.string("id"),
            userID: try row.string("user_id"),
            createdAt: try row.date("created_at"),
            lastUsedAt: try row.date("last_used_at"),
            idleExpiresAt: try row.date("idle_expires_at"),
            absoluteExpiresAt: try row.date("absolute_expires_at"),
            revokedAt: try row.optionalDate("revoked_at"),
            revokedReason: try row.optionalString("revoked_reason"),
            clientAddress: try row.string("client_address"),
            userAgent: try row.string("user_agent"))
    }

    /// The columns in the order `insert` binds them.
    static let selectColumns =
        "id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at, revoked_at, revoked_reason, client_address, user_agent"
}

extension RefreshTokenRecord {
    init(row: PostgresRow) throws {
        let row = row.makeRandomAccess()
        self.init(
            hash: try row.string("hash"),
            sessionID: try row.string("session_id"),
            issuedAt: try row.date("issued_at"),
            spentAt: try row.optionalDate("spent_at"),
            successorHash: try row.optionalString("successor_hash"),
            sealedSuccessor: try row["sealed_successor"].decode(Data?.self).map { [UInt8]($0) })
    }
}

extension ThrottleCounter {
    init(row: PostgresRow) throws {
        let row = row.makeRandomAccess()
        self.init(
            key: try row.string("key"),
            failures: try row.int("failures"),
            lastFailureAt: try row.date("last_failure_at"),
            lockedUntil: try row.optionalDate("locked_until"))
    }
}

extension AuditEvent {
    init(row: PostgresRow) throws {
        let row = row.makeRandomAccess()
        self.init(
            kind: try row.string("kind"),
            at: try row.date("at"),
            userID: try row.optionalString("user_id"),
            username: try row.optionalString("username"),
            sessionID: try row.optionalString("session_id"),
            clientAddress: try row.optionalString("client_address"),
            detail: try row.optionalString("detail"))
    }

    /// The statement that inserts this event; shared by `PostgresAuditStore` and session transactions.
    var insertQuery: PostgresQuery {
        """
        INSERT INTO audit_events (kind, at, user_id, username, session_id, client_address, detail)
        VALUES (\(kind), \(at.unixSeconds), \(userID), \(username), \(sessionID), \(clientAddress), \(detail))
        """
    }
}
