import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `POST /logout` and `POST /logout?scope=all`: idempotent, immediate at the gate (DESIGN §2).
@Suite struct LogoutEndpointTests {
    func started() async throws -> (TestApp, TestApp.Session) {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        return (app, try await app.login("alice"))
    }

    @Test func logoutEndsTheSessionAndClearsTheCookies() async throws {
        let (app, session) = try await started()
        let response = await app.send(.post("/logout", headers: session.refreshCookie))
        #expect(response.status.code == 204)
        #expect(response.body.isEmpty)
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(ClearedCookies.areSet(on: response))
        let refresh = await app.send(.post("/refresh", headers: session.refreshCookie))
        #expect(refresh.status.code == 401)
        #expect(refresh.errorCode == "refresh_invalid")
        // Revocation is immediate at the gate, before the access token expires.
        let verify = await app.send(.get("/verify", headers: session.bearer))
        #expect(verify.status.code == 401)
        #expect(verify.errorCode == "invalid_token")
        #expect(await app.send(.get("/me", headers: session.bearer)).status.code == 401)
    }

    @Test func logoutFindsTheSessionFromTheAccessTokenToo() async throws {
        let (app, session) = try await started()
        #expect(await app.send(.post("/logout", headers: session.bearer)).status.code == 204)
        #expect(await app.send(.get("/verify", headers: session.bearer)).status.code == 401)
        #expect(await app.send(.post("/refresh", headers: session.refreshCookie)).errorCode == "refresh_invalid")
    }

    @Test func logoutFindsTheSessionFromTheAccessCookie() async throws {
        let (app, session) = try await started()
        #expect(await app.send(.post("/logout", headers: session.accessCookie)).status.code == 204)
        #expect(await app.send(.get("/verify", headers: session.bearer)).status.code == 401)
    }

    @Test func logoutLeavesOtherSessionsAlone() async throws {
        let (app, session) = try await started()
        let other = try await app.login("alice")
        #expect(await app.send(.post("/logout", headers: session.refreshCookie)).status.code == 204)
        #expect(await app.send(.get("/verify", headers: other.bearer)).status.code == 204)
        #expect(await app.send(.post("/refresh", headers: other.refreshCookie)).status.code == 200)
    }

    @Test func logoutWithoutASessionStillSucceeds() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.post("/logout"))
        #expect(response.status.code == 204)
        #expect(ClearedCookies.areSet(on: response))
        let garbage = await app.send(
            .post("/logout", headers: Headers([("Cookie", "__Secure-refresh=nope; __Host-access=a.b.c")])))
        #expect(garbage.status.code == 204)
    }

    @Test func logoutTwiceIsFine() async throws {
        let (app, session) = try await started()
        #expect(await app.send(.post("/logout", headers: session.refreshCookie)).status.code == 204)
        #expect(await app.send(.post("/logout", headers: session.refreshCookie)).status.code == 204)
    }

    @Test func scopeAllRevokesEverySessionOfTheUser() async throws {
        let (app, first) = try await started()
        let second = try await app.login("alice")
        try await app.addUser("bob")
        let bob = try await app.login("bob")
        let response = await app.send(.post("/logout", query: "scope=all", headers: first.bearer))
        #expect(response.status.code == 204)
        #expect(ClearedCookies.areSet(on: response))
        #expect(await app.send(.get("/verify", headers: first.bearer)).status.code == 401)
        #expect(await app.send(.get("/verify", headers: second.bearer)).status.code == 401)
        #expect(await app.send(.post("/refresh", headers: second.refreshCookie)).errorCode == "refresh_invalid")
        // Another user's session is untouched.
        #expect(await app.send(.get("/verify", headers: bob.bearer)).status.code == 204)
    }

    @Test func scopeAllFromTheRefreshCookieWorks() async throws {
        let (app, first) = try await started()
        let second = try await app.login("alice")
        #expect(await app.send(.post("/logout", query: "scope=all", headers: first.refreshCookie)).status.code == 204)
        #expect(await app.send(.get("/verify", headers: second.bearer)).status.code == 401)
    }

    @Test func scopeAllWithoutAnIdentityIs401() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.post("/logout", query: "scope=all"))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
    }

    @Test func scopeAllWithAnEndedSessionIs401() async throws {
        let (app, session) = try await started()
        #expect(await app.send(.post("/logout", headers: session.refreshCookie)).status.code == 204)
        let response = await app.send(
            .post(
                "/logout", query: "scope=all",
                headers: session.refreshCookie.adding(session.bearer.fields.map { ($0.name, $0.value) })))
        #expect(response.status.code == 401)
    }

    @Test func formLogoutRedirects() async throws {
        let (app, session) = try await started()
        let toLogin = await app.send(.form("/logout", [], headers: session.refreshCookie))
        #expect(toLogin.status.code == 303)
        #expect(toLogin.location == "/login.html")
        #expect(ClearedCookies.areSet(on: toLogin))
        let toTarget = await app.send(.form("/logout", [("rd", "/bye")]))
        #expect(toTarget.location == "/bye")
        let offSite = await app.send(.form("/logout", [("rd", "//evil.example")]))
        #expect(offSite.location == "/")
    }

    @Test func getIsNotAllowed() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get("/logout"))
        #expect(response.status.code == 405)
        #expect(response.headers["Allow"] == "POST")
    }
}
