import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

@Suite struct SQLiteSessionStoreTests {
    let database: SQLiteDatabase
    let sessions: SQLiteSessionStore

    init() throws {
        database = try SQLiteDatabase.temporary()
        sessions = SQLiteSessionStore(database: database)
    }

    private func insert(_ items: Session...) async throws {
        try await sessions.transaction { tx in
            for session in items { try tx.insert(session) }
        }
    }

    @Test func sessionAndTokenAreStoredInATransaction() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        let session = Fixtures.session("s1", userID: alice.id)
        let token = Fixtures.token("h1", sessionID: "s1")
        try await sessions.transaction { tx in
            try tx.insert(session)
            try tx.insert(token)
        }
        #expect(try await sessions.session(id: "s1") == session)
        #expect(try await sessions.session(id: "missing") == nil)
        let stored = try await sessions.transaction { tx in (try tx.session(id: "s1"), try tx.refreshToken(hash: "h1"))
        }
        #expect(stored.0 == session)
        #expect(stored.1 == token)
        #expect(try await sessions.transaction { tx in try tx.refreshToken(hash: "missing") } == nil)
    }

    @Test func markSpentRecordsTheSealedSuccessorAndTouchRenewsTheSession() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await insert(Fixtures.session("s1", userID: alice.id))
        let sealed: [UInt8] = [0, 1, 2, 254, 255]
        try await sessions.transaction { tx in
            try tx.insert(Fixtures.token("h1", sessionID: "s1"))
            try tx.markSpent(hash: "h1", at: Fixtures.at(10), successorHash: "h2", sealedSuccessor: sealed)
            try tx.insert(Fixtures.token("h2", sessionID: "s1", issuedAt: 10))
            try tx.touch(sessionID: "s1", lastUsedAt: Fixtures.at(10), idleExpiresAt: Fixtures.at(3_610))
        }
        let spent = try await sessions.transaction { tx in try tx.refreshToken(hash: "h1") }
        #expect(
            spent
                == RefreshTokenRecord(
                    hash: "h1", sessionID: "s1", issuedAt: Fixtures.at(0), spentAt: Fixtures.at(10),
                    successorHash: "h2", sealedSuccessor: sealed))
        let session = try #require(try await sessions.session(id: "s1"))
        #expect(session.lastUsedAt == Fixtures.at(10))
        #expect(session.idleExpiresAt == Fixtures.at(3_610))
    }

    @Test func markSpentOfAnUnknownTokenRollsBack() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        await #expect(throws: TokenGateError.internalError()) {
            try await sessions.transaction { tx in
                try tx.insert(Fixtures.session("s1", userID: alice.id))
                try tx.markSpent(hash: "missing", at: Fixtures.at(1), successorHash: "h2", sealedSuccessor: [1])
            }
        }
        #expect(try await sessions.session(id: "s1") == nil)
    }

    @Test func revokeChangesAnUnrevokedSessionOnce() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await insert(Fixtures.session("s1", userID: alice.id))
        #expect(try await revoke("s1", at: 5, reason: "logout"))
        #expect(!(try await revoke("s1", at: 9, reason: "again")))
        #expect(!(try await revoke("missing", at: 9, reason: "logout")))
        let session = try #require(try await sessions.session(id: "s1"))
        #expect(session.revokedAt == Fixtures.at(5))
        #expect(session.revokedReason == "logout")
    }

    private func revoke(_ sessionID: String, at seconds: TimeInterval, reason: String) async throws -> Bool {
        try await sessions.transaction { tx in
            try tx.revoke(sessionID: sessionID, at: Fixtures.at(seconds), reason: reason)
        }
    }

    @Test func revokeAllReturnsTheIdsItRevokedAndIsIdempotent() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        let bob = try await Fixtures.insertUser("bob", into: database)
        try await insert(
            Fixtures.session("a1", userID: alice.id), Fixtures.session("a2", userID: alice.id),
            Fixtures.session("a3", userID: alice.id), Fixtures.session("b1", userID: bob.id))
        _ = try await revoke("a3", at: 1, reason: "logout")
        let first = try await sessions.transaction { tx in
            try tx.revokeAll(userID: alice.id, at: Fixtures.at(2), reason: "password_changed")
        }
        #expect(first.sorted() == ["a1", "a2"])
        let second = try await sessions.transaction { tx in
            try tx.revokeAll(userID: alice.id, at: Fixtures.at(3), reason: "password_changed")
        }
        #expect(second.isEmpty)
        #expect(try await sessions.session(id: "a3")?.revokedReason == "logout")
        #expect(try await sessions.session(id: "a1")?.revokedAt == Fixtures.at(2))
        #expect(try await sessions.session(id: "b1")?.revokedAt == nil)
    }

    @Test func revokedSessionIDsListsRevocationsSinceACutoff() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await insert(
            Fixtures.session("s1", userID: alice.id), Fixtures.session("s2", userID: alice.id),
            Fixtures.session("s3", userID: alice.id))
        try await sessions.transaction { tx in
            _ = try tx.revoke(sessionID: "s1", at: Fixtures.at(10), reason: "logout")
            _ = try tx.revoke(sessionID: "s2", at: Fixtures.at(20), reason: "logout")
        }
        let revoked = try await sessions.revokedSessionIDs(since: Fixtures.at(20))
        #expect(revoked.map(\.id) == ["s2"])
        #expect(revoked.map(\.revokedAt) == [Fixtures.at(20)])
        #expect(try await sessions.revokedSessionIDs(since: Fixtures.at(0)).map(\.id) == ["s1", "s2"])
    }

    @Test func sessionsAreFilteredByUserAndActivityNewestFirst() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        let bob = try await Fixtures.insertUser("bob", into: database)
        try await insert(
            Fixtures.session("active", userID: alice.id, createdAt: 10),
            Fixtures.session("idle-expired", userID: alice.id, createdAt: 20, idleExpiresAt: 50),
            Fixtures.session("absolute-expired", userID: alice.id, createdAt: 30, absoluteExpiresAt: 60),
            Fixtures.session("revoked", userID: alice.id, createdAt: 40),
            Fixtures.session("bob-active", userID: bob.id, createdAt: 50))
        _ = try await revoke("revoked", at: 45, reason: "logout")
        let now = Fixtures.at(100)
        #expect(try await sessions.sessions(userID: alice.id, includeEnded: false, now: now).map(\.id) == ["active"])
        #expect(
            try await sessions.sessions(userID: alice.id, includeEnded: true, now: now).map(\.id)
                == ["revoked", "absolute-expired", "idle-expired", "active"])
        #expect(
            try await sessions.sessions(userID: nil, includeEnded: false, now: now).map(\.id) == [
                "bob-active", "active",
            ])
        #expect(try await sessions.sessions(userID: nil, includeEnded: true, now: now).count == 5)
        #expect(try await sessions.sessions(userID: "nobody", includeEnded: true, now: now).isEmpty)
    }

    @Test func purgeDeletesEndedSessionsAndTheirTokens() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await insert(
            Fixtures.session("live", userID: alice.id, idleExpiresAt: 1_000, absoluteExpiresAt: 2_000),
            Fixtures.session("idle", userID: alice.id, idleExpiresAt: 100),
            Fixtures.session("absolute", userID: alice.id, absoluteExpiresAt: 200),
            Fixtures.session("revoked", userID: alice.id, idleExpiresAt: 1_000, absoluteExpiresAt: 2_000),
            Fixtures.session("recently-ended", userID: alice.id, idleExpiresAt: 600))
        try await sessions.transaction { tx in
            try tx.insert(Fixtures.token("h-idle", sessionID: "idle"))
            try tx.insert(Fixtures.token("h-live", sessionID: "live"))
            _ = try tx.revoke(sessionID: "revoked", at: Fixtures.at(300), reason: "logout")
        }
        #expect(try await sessions.purgeSessions(endedBefore: Fixtures.at(500)) == 3)
        let remaining = try await sessions.sessions(userID: nil, includeEnded: true, now: Fixtures.at(0))
        #expect(Set(remaining.map(\.id)) == ["live", "recently-ended"])
        let tokens = try await sessions.transaction { tx in
            (try tx.refreshToken(hash: "h-idle"), try tx.refreshToken(hash: "h-live"))
        }
        #expect(tokens.0 == nil)
        #expect(tokens.1 != nil)
    }

    @Test func auditEventsAppendedInATransactionAreStored() async throws {
        try await sessions.transaction { tx in
            try tx.append(AuditEvent(kind: "refresh.reused", at: Fixtures.at(1), sessionID: "s1"))
        }
        let events = try await SQLiteAuditStore(database: database).recentEvents(limit: 5)
        #expect(events.map(\.kind) == ["refresh.reused"])
    }
}
