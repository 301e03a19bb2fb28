import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `POST /refresh`: rotation, grace for concurrent tabs, reuse detection, lifetimes (DESIGN §2 Refresh).
@Suite struct RefreshEndpointTests {
    func started(_ settings: [String: String] = [:]) async throws -> (TestApp, TestApp.Session) {
        let app = try await TestApp.make(settings)
        try await app.addUser("alice", roles: ["staff"])
        return (app, try await app.login("alice"))
    }

    func refresh(_ app: TestApp, _ token: String) async -> Response {
        await app.send(.post("/refresh", headers: Headers([("Cookie", "__Secure-refresh=\(token)")])))
    }

    @Test func missingCookieIsRefreshMissingAndClearsBothCookies() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.post("/refresh"))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "refresh_missing")
        #expect(ClearedCookies.areSet(on: response))
        let empty = await app.send(.post("/refresh", headers: Headers([("Cookie", "__Secure-refresh=")])))
        #expect(empty.errorCode == "refresh_missing")
    }

    @Test(arguments: [
        "garbage", String(repeating: "A", count: 43), "../../etc/passwd", String(repeating: "x", count: 5000),
    ])
    func unknownTokenIsRefreshInvalidAndClearsBothCookies(token: String) async throws {
        let app = try await TestApp.make()
        let response = await refresh(app, token)
        #expect(response.status.code == 401)
        #expect(response.errorCode == "refresh_invalid")
        #expect(ClearedCookies.areSet(on: response))
    }

    @Test func refreshTokenIsReadOnlyFromItsCookie() async throws {
        let (app, session) = try await started()
        let inBody = await app.send(.json(.post, "/refresh", ["refreshToken": session.refresh]))
        #expect(inBody.errorCode == "refresh_missing")
        let inHeader = await app.send(
            .post("/refresh", headers: Headers([("Authorization", "Bearer \(session.refresh)")])))
        #expect(inHeader.errorCode == "refresh_missing")
    }

    @Test func rotationIssuesNewTokensAndANewRefreshCookie() async throws {
        let (app, session) = try await started()
        app.clock.advance(by: 60)
        let response = await refresh(app, session.refresh)
        #expect(response.status.code == 200)
        #expect(response.headers["Cache-Control"] == "no-store")
        let rotated = try TestApp.Session(response)
        #expect(rotated.refresh != session.refresh)
        #expect(rotated.access != session.access)
        #expect(response.json["accessToken"] as? String == rotated.access)
        #expect(response.json["tokenType"] as? String == "Bearer")
        #expect(response.json["expiresIn"] as? Int == 900)
        #expect((response.json["user"] as? [String: Any])?["username"] as? String == "alice")
        #expect(!String(decoding: response.body, as: UTF8.self).contains(rotated.refresh))
        #expect(
            response.setCookie("__Secure-refresh")
                == "__Secure-refresh=\(rotated.refresh); Path=/auth; Max-Age=604800; Secure; HttpOnly; SameSite=Lax")
        #expect(
            response.setCookie("__Host-access")
                == "__Host-access=\(rotated.access); Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax")
        // Same session, new access token.
        #expect(
            TokenForge.payload(of: rotated.access)["sid"] as? String == TokenForge.payload(of: session.access)["sid"]
                as? String)
        #expect(await refresh(app, rotated.refresh).status.code == 200)
    }

    @Test func oldTokenWithinGraceReturnsTheSameSuccessor() async throws {
        let (app, session) = try await started()
        let first = try TestApp.Session(await refresh(app, session.refresh))
        app.clock.advance(by: 9)
        let again = await refresh(app, session.refresh)
        #expect(again.status.code == 200)
        #expect(try TestApp.Session(again).refresh == first.refresh)
        // The successor is still good.
        #expect(await refresh(app, first.refresh).status.code == 200)
    }

    @Test func oldTokenAfterGraceRevokesTheWholeSession() async throws {
        let (app, session) = try await started()
        let successor = try TestApp.Session(await refresh(app, session.refresh))
        app.clock.advance(by: 11)
        let reused = await refresh(app, session.refresh)
        #expect(reused.status.code == 401)
        #expect(reused.errorCode == "refresh_reused")
        #expect(ClearedCookies.areSet(on: reused))
        let dead = await refresh(app, successor.refresh)
        #expect(dead.status.code == 401)
        #expect(dead.errorCode == "refresh_invalid")
        // The gate rejects the session's access tokens at once.
        #expect(await app.send(.get("/verify", headers: successor.bearer)).status.code == 401)
        #expect(await app.send(.get("/verify", headers: session.bearer)).status.code == 401)
    }

    @Test func replayingAGrandparentAfterItsGraceIsReuse() async throws {
        let (app, session) = try await started()
        let second = try TestApp.Session(await refresh(app, session.refresh))
        app.clock.advance(by: 30)
        let third = try TestApp.Session(await refresh(app, second.refresh))
        #expect(await refresh(app, session.refresh).errorCode == "refresh_reused")
        #expect(await refresh(app, third.refresh).errorCode == "refresh_invalid")
    }

    @Test func sessionEndsWhenIdleForTheIdleTimeout() async throws {
        let (app, session) = try await started()
        app.clock.advance(by: 7 * 86_400)
        let response = await refresh(app, session.refresh)
        #expect(response.status.code == 401)
        #expect(response.errorCode == "refresh_invalid")
        #expect(ClearedCookies.areSet(on: response))
    }

    @Test func eachRotationRenewsTheIdleTimeout() async throws {
        var (app, session) = try await started(["refresh.idleTTL": "1h", "refresh.absoluteTTL": "30d"])
        for _ in 0..<5 {
            app.clock.advance(by: 3_000)
            session = try TestApp.Session(await refresh(app, session.refresh))
        }
        app.clock.advance(by: 3_601)
        #expect(await refresh(app, session.refresh).errorCode == "refresh_invalid")
    }

    @Test func sessionEndsAtItsAbsoluteLifetimeHoweverActive() async throws {
        var (app, session) = try await started(["refresh.idleTTL": "1h", "refresh.absoluteTTL": "3h"])
        for _ in 0..<3 {
            app.clock.advance(by: 3_000)  // 50 min, 1 h 40, 2 h 30
            session = try TestApp.Session(await refresh(app, session.refresh))
        }
        // 30 minutes remain: the cookie lives no longer than the session.
        #expect(session.response.setCookie("__Secure-refresh")?.contains("; Max-Age=1800;") == true)
        app.clock.advance(by: 1_800)
        let response = await refresh(app, session.refresh)
        #expect(response.status.code == 401)
        #expect(response.errorCode == "refresh_invalid")
    }

    @Test func concurrentRefreshesOfOneTokenShareOneSuccessor() async throws {
        let (app, session) = try await started()
        let responses = await withTaskGroup(of: Response.self) { group in
            for _ in 0..<5 {
                group.addTask { await refresh(app, session.refresh) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.map(\.status.code) == [200, 200, 200, 200, 200])
        let successors = Set(responses.compactMap { $0.cookieValue("__Secure-refresh") })
        #expect(successors.count == 1)
        #expect(successors.first != session.refresh)
    }

    @Test func disabledUserCannotRefresh() async throws {
        let (app, session) = try await started()
        try await app.services.users.setDisabled(true, username: "alice", at: app.clock.now)
        let response = await refresh(app, session.refresh)
        #expect(response.status.code == 401)
        #expect(response.errorCode == "refresh_invalid")
    }

    @Test func passwordChangeEndsEverySession() async throws {
        let (app, session) = try await started()
        try await app.services.users.changePassword(username: "alice", password: "a new password 42", at: app.clock.now)
        #expect(await refresh(app, session.refresh).errorCode == "refresh_invalid")
        #expect(await app.send(.get("/verify", headers: session.bearer)).status.code == 401)
    }
}
