import Foundation
import Testing
import TokenGateAuth
import TokenGateSQLite

@Suite struct SQLiteUserStoreTests {
    let database: SQLiteDatabase
    let users: SQLiteUserStore

    init() throws {
        database = try SQLiteDatabase.temporary()
        users = SQLiteUserStore(database: database)
    }

    @Test func insertedUserIsFoundByIdAndUsername() async throws {
        let alice = Fixtures.user("alice", roles: ["admin", "ops"])
        try await users.insert(alice)
        #expect(try await users.user(id: alice.id) == alice)
        #expect(try await users.user(username: "alice") == alice)
        #expect(try await users.user(username: "bob") == nil)
        #expect(try await users.user(id: "missing") == nil)
    }

    @Test func usernamesAreStoredLowercasedAndFoundInAnyCase() async throws {
        let mixed = Fixtures.user("Alice")
        try await users.insert(mixed)
        let stored = try #require(try await users.user(username: "ALICE"))
        #expect(stored.username == "alice")
        #expect(stored.id == mixed.id)
    }

    @Test func duplicateUsernameInAnotherCaseIsAConflict() async throws {
        try await users.insert(Fixtures.user("alice"))
        let error = await #expect(throws: TokenGateError.conflict("")) {
            try await users.insert(Fixtures.user("ALICE"))
        }
        #expect(error?.message == "That username is already taken.")
        #expect(try await users.allUsers().count == 1)
    }

    @Test func duplicateNonASCIIUsernameIsAConflict() async throws {
        try await users.insert(Fixtures.user("émile"))
        await #expect(throws: TokenGateError.conflict("")) {
            try await users.insert(Fixtures.user("ÉMILE"))
        }
    }

    @Test func updateReplacesEveryField() async throws {
        var alice = Fixtures.user("alice")
        try await users.insert(alice)
        alice.username = "alice2"
        alice.name = "Alice Liddell"
        alice.roles = []
        alice.passwordHash = "$argon2id$new"
        alice.isDisabled = true
        alice.updatedAt = Fixtures.at(60)
        try await users.update(alice)
        #expect(try await users.user(id: alice.id) == alice)
        #expect(try await users.user(username: "alice") == nil)
    }

    @Test func updateToATakenUsernameIsAConflict() async throws {
        try await users.insert(Fixtures.user("alice"))
        var bob = Fixtures.user("bob")
        try await users.insert(bob)
        bob.username = "Alice"
        await #expect(throws: TokenGateError.conflict("")) { try await users.update(bob) }
        #expect(try await users.user(id: bob.id)?.username == "bob")
    }

    @Test func updateOfAnUnknownUserFails() async throws {
        await #expect(throws: TokenGateError.invalidRequest("")) { try await users.update(Fixtures.user("ghost")) }
    }

    @Test func allUsersAreOrderedByUsername() async throws {
        for name in ["carol", "alice", "bob"] {
            try await users.insert(Fixtures.user(name))
        }
        #expect(try await users.allUsers().map(\.username) == ["alice", "bob", "carol"])
    }
}
