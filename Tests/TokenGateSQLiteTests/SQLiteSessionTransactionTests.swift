import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

/// Atomicity and isolation of `SQLiteSessionStore.transaction`.
@Suite struct SQLiteSessionTransactionTests {
    let database: SQLiteDatabase
    let sessions: SQLiteSessionStore

    init() throws {
        database = try SQLiteDatabase.temporary()
        sessions = SQLiteSessionStore(database: database)
    }

    @Test func tokenGateErrorFromTheBodyPassesThroughAndRollsBack() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        await #expect(throws: TokenGateError.refreshReused()) {
            try await sessions.transaction { tx in
                try tx.insert(Fixtures.session("s1", userID: alice.id))
                try tx.insert(Fixtures.token("h1", sessionID: "s1"))
                try tx.append(AuditEvent(kind: "refresh.reused", at: Fixtures.at(1)))
                throw TokenGateError.refreshReused()
            }
        }
        #expect(try await sessions.session(id: "s1") == nil)
        #expect(try await sessions.transaction { tx in try tx.refreshToken(hash: "h1") } == nil)
        #expect(try await SQLiteAuditStore(database: database).recentEvents(limit: 1).isEmpty)
    }

    @Test func otherErrorsFromTheBodyBecomeInternalErrors() async throws {
        struct Oops: Error {}
        let alice = try await Fixtures.insertUser("alice", into: database)
        let error = await #expect(throws: TokenGateError.internalError()) {
            try await sessions.transaction { tx in
                try tx.insert(Fixtures.session("s1", userID: alice.id))
                throw Oops()
            }
        }
        #expect(error?.underlying is Oops)
        #expect(try await sessions.session(id: "s1") == nil)
    }

    @Test func duplicateInsertIsAConflictAndRollsBack() async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await sessions.transaction { tx in try tx.insert(Fixtures.session("s1", userID: alice.id)) }
        await #expect(throws: TokenGateError.conflict("")) {
            try await sessions.transaction { tx in
                try tx.insert(Fixtures.session("s2", userID: alice.id))
                try tx.insert(Fixtures.session("s1", userID: alice.id))
            }
        }
        #expect(try await sessions.session(id: "s2") == nil)
    }

    /// Ten concurrent rotations of one session: each finds the current (unspent) token at the end
    /// of the chain and spends it. Serialised transactions give one linear chain of eleven tokens;
    /// interleaved ones would fork it (two successors of one token).
    @Test func concurrentTransactionsAreSerialised() async throws {
        try await rotateConcurrently(through: [sessions])
    }

    /// The same across two pools on one file, as the server and the admin CLI are: only `BEGIN
    /// IMMEDIATE` makes the second writer wait for the lock instead of failing or forking.
    @Test func concurrentTransactionsOfTwoConnectionsAreSerialised() async throws {
        let other = SQLiteSessionStore(database: try SQLiteDatabase(path: database.path))
        try await rotateConcurrently(through: [sessions, other])
    }

    private func rotateConcurrently(through stores: [SQLiteSessionStore]) async throws {
        let alice = try await Fixtures.insertUser("alice", into: database)
        try await sessions.transaction { tx in
            try tx.insert(Fixtures.session("s1", userID: alice.id))
            try tx.insert(Fixtures.token("t0", sessionID: "s1"))
        }
        let spent = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 1...10 {
                let store = stores[index % stores.count]
                group.addTask { try await store.transaction { tx in try Self.rotateLatest(tx, index: index) } }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(spent).count == 10)
        let chain = try await sessions.transaction { tx in
            var records = [try #require(try tx.refreshToken(hash: "t0"))]
            while let next = records.last?.successorHash {
                records.append(try #require(try tx.refreshToken(hash: next)))
            }
            return records
        }
        #expect(chain.count == 11)
        #expect(chain.filter { $0.spentAt == nil }.count == 1)
        #expect(chain.last?.spentAt == nil)
    }

    /// Spends the last token of the chain from `t0`; returns its hash.
    private static func rotateLatest(_ tx: any SessionTransaction, index: Int) throws -> String {
        var current = try #require(try tx.refreshToken(hash: "t0"))
        while let next = current.successorHash {
            current = try #require(try tx.refreshToken(hash: next))
        }
        let successor = "t\(index)"
        try tx.markSpent(
            hash: current.hash, at: Fixtures.at(Double(index)), successorHash: successor,
            sealedSuccessor: [UInt8(index)])
        try tx.insert(Fixtures.token(successor, sessionID: "s1", issuedAt: Double(index)))
        return current.hash
    }
}
