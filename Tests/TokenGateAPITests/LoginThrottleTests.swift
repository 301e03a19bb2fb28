import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// Failed logins are counted per username and per client address, and refused before any
/// hashing during a lockout (DESIGN §2 Login, Throttling).
@Suite struct LoginThrottleTests {
    func attempt(
        _ app: TestApp, _ username: String, _ password: String = "wrong password", from address: String = "192.0.2.1"
    ) async -> Response {
        var request = Request.json(.post, "/login", ["username": username, "password": password])
        request.remoteAddress = address
        return await app.send(request)
    }

    func fail(_ app: TestApp, _ username: String, times: Int, from address: String = "192.0.2.1") async {
        for _ in 0..<times {
            let response = await attempt(app, username, from: address)
            #expect(response.status.code == 401, "failure for \(username) should still be 401")
        }
    }

    @Test func sixthAttemptAfterFiveFailuresIsThrottled() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        await fail(app, "alice", times: 5)
        let response = await attempt(app, "alice")
        #expect(response.status.code == 429)
        #expect(response.errorCode == "too_many_attempts")
        let retryAfter = try #require(response.headers["Retry-After"].flatMap { Int($0) })
        #expect(retryAfter >= 1)
    }

    @Test func lockoutRefusesEvenTheRightPasswordSoNothingIsHashed() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        await fail(app, "alice", times: 5)
        let response = await attempt(app, "alice", TestApp.password)
        #expect(response.status.code == 429)
        // Had the password been checked, the success would have reset the username's count.
        app.clock.advance(by: 3)
        await fail(app, "alice", times: 1)
        #expect(await attempt(app, "alice").status.code == 429)
    }

    @Test func allCaseVariantsAndUnknownUsersCountTogether() async throws {
        let app = try await TestApp.make()
        for typed in ["Ghost", "GHOST", "ghost", " ghost", "gHoSt"] {
            #expect(await attempt(app, typed).status.code == 401)
        }
        #expect(await attempt(app, "ghost").status.code == 429)
    }

    @Test func correctPasswordResetsTheUsernameCount() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        await fail(app, "alice", times: 4)
        #expect(await attempt(app, "alice", TestApp.password).status.code == 200)
        await fail(app, "alice", times: 4)
        #expect(await attempt(app, "alice", TestApp.password).status.code == 200)
    }

    @Test func lockoutExpiresAndThenDoubles() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        await fail(app, "alice", times: 5)
        #expect(await attempt(app, "alice").headers["Retry-After"] == "2")
        app.clock.advance(by: 2)
        await fail(app, "alice", times: 1)
        let second = await attempt(app, "alice")
        #expect(second.status.code == 429)
        #expect(second.headers["Retry-After"] == "4")
        app.clock.advance(by: 3)
        #expect(await attempt(app, "alice", TestApp.password).status.code == 429)
        app.clock.advance(by: 1)
        #expect(await attempt(app, "alice", TestApp.password).status.code == 200)
    }

    @Test func lockoutNeverExceedsFifteenMinutes() async throws {
        let app = try await TestApp.make()
        await fail(app, "ghost", times: 5)
        for _ in 0..<12 {
            let locked = await attempt(app, "ghost")
            let wait = try #require(locked.headers["Retry-After"].flatMap { Int($0) })
            #expect(wait <= 900)
            app.clock.advance(by: TimeInterval(wait))
            #expect(await attempt(app, "ghost").status.code == 401)
        }
        #expect(await attempt(app, "ghost").headers["Retry-After"] == "900")
    }

    @Test func failuresAreForgottenAfterFifteenQuietMinutes() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        await fail(app, "alice", times: 4)
        app.clock.advance(by: 15 * 60 + 1)
        await fail(app, "alice", times: 4)
        #expect(await attempt(app, "alice", TestApp.password).status.code == 200)
    }

    @Test func addressIsLockedOutAfterThirtyFailuresAcrossUsernames() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        for index in 0..<30 {
            #expect(await attempt(app, "user\(index)", from: "203.0.113.9").status.code == 401)
        }
        let locked = await attempt(app, "alice", TestApp.password, from: "203.0.113.9")
        #expect(locked.status.code == 429)
        #expect(locked.errorCode == "too_many_attempts")
        // Another address (another office) is not affected.
        #expect(await attempt(app, "alice", TestApp.password, from: "198.51.100.2").status.code == 200)
    }

    @Test func successDoesNotResetTheAddressCount() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        for index in 0..<29 {
            #expect(await attempt(app, "user\(index)", from: "203.0.113.9").status.code == 401)
        }
        #expect(await attempt(app, "alice", TestApp.password, from: "203.0.113.9").status.code == 200)
        #expect(await attempt(app, "user-last", from: "203.0.113.9").status.code == 401)
        #expect(await attempt(app, "alice", TestApp.password, from: "203.0.113.9").status.code == 429)
    }

    @Test func forwardedForIsIgnoredFromUntrustedPeers() async throws {
        let app = try await TestApp.make()
        for index in 0..<30 {
            var request = Request.json(.post, "/login", ["username": "u\(index)", "password": "nope"])
            request.remoteAddress = "203.0.113.9"
            request.headers.add("X-Forwarded-For", "10.0.0.\(index)")
            #expect(await app.send(request).status.code == 401)
        }
        #expect(await attempt(app, "someone", from: "203.0.113.9").status.code == 429)
    }

    @Test func forwardedForCountsFromTrustedProxies() async throws {
        let app = try await TestApp.make(["http.trustedProxies": "127.0.0.1"])
        for index in 0..<30 {
            var request = Request.json(.post, "/login", ["username": "u\(index)", "password": "nope"])
            request.remoteAddress = "127.0.0.1"
            request.headers.add("X-Forwarded-For", "203.0.113.77")
            #expect(await app.send(request).status.code == 401)
        }
        var other = Request.json(.post, "/login", ["username": "someone", "password": "nope"])
        other.remoteAddress = "127.0.0.1"
        other.headers.add("X-Forwarded-For", "203.0.113.78")
        #expect(await app.send(other).status.code == 401)
        other.headers["X-Forwarded-For"] = "203.0.113.77"
        #expect(await app.send(other).status.code == 429)
    }

    @Test
    func concurrentFailuresCannotExceedTheUsernameLimit() async throws {
        // Enough hashing capacity that the pool's own 503 does not hide the race.
        let app = try await TestApp.make(["passwords.hashingThreads": "2", "passwords.maxQueued": "100"])
        try await app.addUser("alice")
        let codes = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask { await attempt(app, "alice").status.code }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        // Each 401 is a password guess that was checked; the contract allows five.
        #expect(codes.filter { $0 == 401 }.count <= 5)
        #expect(codes.allSatisfy { [401, 429, 503].contains($0) })
    }
}
