import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

@Suite struct SQLiteAuditStoreTests {
    let audit: SQLiteAuditStore

    init() throws {
        audit = SQLiteAuditStore(database: try SQLiteDatabase.temporary())
    }

    @Test func appendedEventsComeBackNewestFirst() async throws {
        let full = AuditEvent(
            kind: "login.succeeded", at: Fixtures.at(2), userID: "u1", username: "alice", sessionID: "s1",
            clientAddress: "192.0.2.1", detail: "password")
        try await audit.append(AuditEvent(kind: "login.failed", at: Fixtures.at(1)))
        try await audit.append(full)
        try await audit.append(AuditEvent(kind: "logout", at: Fixtures.at(3), sessionID: "s1"))
        let recent = try await audit.recentEvents(limit: 2)
        #expect(recent.map(\.kind) == ["logout", "login.succeeded"])
        #expect(recent.last == full)
        #expect(try await audit.recentEvents(limit: 10).count == 3)
    }

    @Test func eventsAtTheSameInstantComeBackInReverseInsertionOrder() async throws {
        for kind in ["a", "b", "c"] {
            try await audit.append(AuditEvent(kind: kind, at: Fixtures.at(0)))
        }
        #expect(try await audit.recentEvents(limit: 3).map(\.kind) == ["c", "b", "a"])
    }

    @Test func nonPositiveLimitReturnsNothing() async throws {
        try await audit.append(AuditEvent(kind: "a", at: Fixtures.at(0)))
        #expect(try await audit.recentEvents(limit: 0).isEmpty)
    }
}
