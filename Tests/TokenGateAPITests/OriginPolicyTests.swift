import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// CSRF defence on the state-changing POSTs (DESIGN §3): `Origin` against the request's own
/// origin (or the configured ones), else `Sec-Fetch-Site`, else allowed.
@Suite struct OriginPolicyTests {
    /// A JSON login as nginx would pass it for `https://login.example`.
    func login(_ headers: [(String, String)], host: String = "login.example", scheme: String = "https") -> Request {
        var request = Request.json(
            .post, "/login", ["username": "alice", "password": TestApp.password],
            headers: Headers([("Host", host)] + headers))
        request.params["REQUEST_SCHEME"] = scheme
        return request
    }

    func app(_ settings: [String: String] = [:]) async throws -> TestApp {
        let app = try await TestApp.make(settings)
        try await app.addUser("alice")
        return app
    }

    @Test(arguments: [
        "https://evil.example", "http://login.example", "https://login.example.evil.example", "https://LOGIN.example.",
        "https://login.example:8443", "null", "", "https://login.example/",
    ])
    func foreignOriginIsRejected(origin: String) async throws {
        let app = try await app()
        let response = await app.send(login([("Origin", origin)]))
        #expect(response.status.code == 403)
        #expect(response.errorCode == "origin_rejected")
        #expect(response.setCookies.isEmpty)
    }

    @Test func sameOriginIsAllowed() async throws {
        let app = try await app()
        #expect(await app.send(login([("Origin", "https://login.example")])).status.code == 200)
    }

    @Test func sameOriginWithAnExplicitPortIsAllowed() async throws {
        let app = try await app()
        let custom = login([("Origin", "https://login.example:8443")], host: "login.example:8443")
        #expect(await app.send(custom).status.code == 200)
        let defaultPort = login([("Origin", "https://login.example")], host: "login.example:443")
        #expect(await app.send(defaultPort).status.code == 200)
        let plainHTTP = login([("Origin", "http://localhost")], host: "localhost:80", scheme: "http")
        #expect(await app.send(plainHTTP).status.code == 200)
    }

    @Test func crossSiteFetchWithoutOriginIsRejected() async throws {
        let app = try await app()
        let response = await app.send(login([("Sec-Fetch-Site", "cross-site")]))
        #expect(response.status.code == 403)
        #expect(response.errorCode == "origin_rejected")
    }

    @Test(arguments: ["same-origin", "same-site", "none"])
    func otherFetchSitesWithoutOriginAreAllowed(site: String) async throws {
        let app = try await app()
        #expect(await app.send(login([("Sec-Fetch-Site", site)])).status.code == 200)
    }

    @Test func withNeitherHeaderScriptsAreAllowed() async throws {
        let app = try await app()
        #expect(await app.send(login([])).status.code == 200)
    }

    @Test func configuredOriginsReplaceTheOwnOrigin() async throws {
        let app = try await app(["http.allowedOrigins": "https://app.example https://admin.example"])
        #expect(await app.send(login([("Origin", "https://app.example")])).status.code == 200)
        #expect(await app.send(login([("Origin", "https://admin.example")])).status.code == 200)
        #expect(await app.send(login([("Origin", "https://login.example")])).status.code == 403)
    }

    @Test func refreshAndLogoutCheckTheOriginToo() async throws {
        let app = try await app()
        let session = try await app.login("alice")
        let foreign = [("Origin", "https://evil.example")]
        let refresh = await app.send(.post("/refresh", headers: session.refreshCookie.adding(foreign)))
        #expect(refresh.status.code == 403)
        #expect(refresh.errorCode == "origin_rejected")
        let logout = await app.send(.post("/logout", headers: session.refreshCookie.adding(foreign)))
        #expect(logout.status.code == 403)
        #expect(logout.errorCode == "origin_rejected")
        let crossSite = await app.send(
            .post("/logout", headers: session.refreshCookie.adding([("Sec-Fetch-Site", "cross-site")])))
        #expect(crossSite.status.code == 403)
        // Nothing was revoked: the session still refreshes.
        #expect(await app.send(.post("/refresh", headers: session.refreshCookie)).status.code == 200)
    }

    @Test func formLoginFromAForeignOriginIsRejectedNotRedirected() async throws {
        let app = try await app()
        let request = Request.form(
            "/login", [("username", "alice"), ("password", TestApp.password)],
            headers: Headers([("Host", "login.example"), ("Origin", "https://evil.example")]))
        let response = await app.send(request)
        #expect(response.status.code == 403)
        #expect(response.setCookies.isEmpty)
    }

    @Test func navigationRefreshNeverAnswersOriginRejected() async throws {
        let app = try await app()
        let session = try await app.login("alice")
        let headers = session.refreshCookie.adding([
            ("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site"), ("Host", "login.example"),
        ])
        let response = await app.send(.get("/refresh", query: "rd=/app", headers: headers))
        #expect(response.status.code == 303)
        #expect(response.location == "/app")
    }
}
