import Foundation
import Testing
import TokenGateAPI
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `GET /refresh?rd=` after nginx's `error_page 401` on a page load: always a 303, never an
/// open redirect (DESIGN §2 Verify, navigation flow).
@Suite struct RefreshNavigationTests {
    /// Attempts to leave the site through `rd`, written into the query the way an attacker would.
    static let offSiteQueries = [
        "rd=//evil.example", "rd=//evil.example/path", "rd=/\\evil.example", "rd=https://evil.example",
        "rd=javascript:alert(1)", "rd=%2F%2Fevil.example", "rd=/%2F%2Fevil.example", "rd=/%5Cevil",
        "rd=%2F%5Cevil.example", "rd=/%09/evil.example", "rd=/\t/evil.example", "rd=https:evil.example",
        "rd=%68ttps://evil.example", "rd=evil.example", "x=1&rd=//evil.example", "rd=%252F%252Fevil.example",
        "rd=/%0D%0ALocation:%20https://evil.example", "rd=/%00//evil.example",
    ]

    func navigate(_ app: TestApp, query: String, headers: Headers = Headers()) async -> Response {
        await app.send(.get("/refresh", query: query, headers: headers))
    }

    func started() async throws -> (TestApp, TestApp.Session) {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        return (app, try await app.login("alice"))
    }

    /// Whether the browser stays on this site: a path with a single leading `/`.
    static func isOnSite(_ location: String?) -> Bool {
        guard let location else { return false }
        return location.hasPrefix("/") && !location.hasPrefix("//") && !location.hasPrefix("/\\")
            && !location.contains("\r") && !location.contains("\n")
    }

    @Test func validCookieRedirectsToTheVerbatimTargetWithRotatedCookies() async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: "rd=/app/x?y=1", headers: session.refreshCookie)
        #expect(response.status.code == 303)
        #expect(response.location == "/app/x?y=1")
        #expect(response.headers["Cache-Control"] == "no-store")
        let rotated = try TestApp.Session(response)
        #expect(rotated.refresh != session.refresh)
        #expect(await app.send(.get("/verify", headers: rotated.bearer)).status.code == 204)
    }

    @Test func verbatimTargetKeepsTheWholeOriginalQuery() async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: "rd=/search?q=a+b&page=2&sort=-date", headers: session.refreshCookie)
        #expect(response.location == "/search?q=a+b&page=2&sort=-date")
    }

    @Test func encodedSlashesInsideAVerbatimTargetAreKept() async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: "rd=/a?next=%2Fb%3Fc%3D1", headers: session.refreshCookie)
        #expect(response.location == "/a?next=%2Fb%3Fc%3D1")
    }

    @Test(arguments: ["rd=/search?q=a%20b", "rd=/caf%C3%A9", "rd=/docs/My%20File.pdf"])
    func percentEncodedCharactersInAVerbatimTargetAreKept(query: String) async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: query, headers: session.refreshCookie)
        #expect(response.location == String(query.dropFirst(3)))
    }

    @Test func encodedTargetIsDecodedOnce() async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: "x=1&rd=%2Fapp%2Fx%3Fy%3D1", headers: session.refreshCookie)
        #expect(response.location == "/app/x?y=1")
    }

    @Test func missingTargetGoesHome() async throws {
        let (app, session) = try await started()
        #expect(await navigate(app, query: "", headers: session.refreshCookie).location == "/")
    }

    @Test func withoutACookieGoesToTheLoginPageWithTheTargetKept() async throws {
        let app = try await TestApp.make()
        let response = await navigate(app, query: "rd=/app/x?y=1")
        #expect(response.status.code == 303)
        #expect(response.location?.hasPrefix("/login.html?") == true)
        #expect(response.locationQueryValue("rd") == "/app/x?y=1")
        #expect(response.locationQueryValue("error") == "refresh_missing")
        #expect(ClearedCookies.areSet(on: response))
    }

    @Test func invalidCookieGoesToTheLoginPageWithTheTargetKept() async throws {
        let app = try await TestApp.make()
        let headers = Headers([("Cookie", "__Secure-refresh=\(String(repeating: "A", count: 43))")])
        let response = await navigate(app, query: "rd=/app/x?y=1", headers: headers)
        #expect(response.status.code == 303)
        #expect(response.location == "/login.html?error=refresh_invalid&rd=%2Fapp%2Fx%3Fy%3D1")
        #expect(ClearedCookies.areSet(on: response))
    }

    @Test func reusedCookieGoesToTheLoginPageToo() async throws {
        let (app, session) = try await started()
        _ = await navigate(app, query: "rd=/a", headers: session.refreshCookie)
        app.clock.advance(by: 11)
        let response = await navigate(app, query: "rd=/a", headers: session.refreshCookie)
        #expect(response.status.code == 303)
        #expect(response.locationQueryValue("error") == "refresh_reused")
        #expect(response.locationQueryValue("rd") == "/a")
    }

    @Test(arguments: offSiteQueries)
    func offSiteTargetsAreReplacedWithHome(query: String) async throws {
        let (app, session) = try await started()
        let response = await navigate(app, query: query, headers: session.refreshCookie)
        #expect(response.status.code == 303)
        #expect(Self.isOnSite(response.location))
        #expect(response.location == "/")
    }

    @Test(arguments: offSiteQueries)
    func offSiteTargetsAreNotCarriedToTheLoginPage(query: String) async throws {
        let app = try await TestApp.make()
        let response = await navigate(app, query: query)
        #expect(response.status.code == 303)
        #expect(Self.isOnSite(response.location))
        #expect(response.locationQueryValue("rd") == nil)
    }

    @Test(arguments: offSiteQueries)
    func offSiteTargetsOfAFormLoginAreReplacedWithHome(query: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let rd = RedirectTarget(allowedOrigins: []).fromQuery(query)
        let fields = [("username", "alice"), ("password", TestApp.password), ("rd", rd ?? "")]
        let response = await app.send(.form("/login", fields))
        #expect(response.status.code == 303)
        #expect(response.location == "/")
    }

    @Test func allowedAbsoluteTargetIsKept() async throws {
        let app = try await TestApp.make(["http.allowedOrigins": "https://app.example"])
        try await app.addUser("alice")
        let session = try await app.login("alice")
        let allowed = await navigate(
            app, query: "rd=https%3A%2F%2Fapp.example%2Fdash%3Fx%3D1", headers: session.refreshCookie)
        #expect(allowed.location == "https://app.example/dash?x=1")
        let next = try TestApp.Session(allowed)
        let other = await navigate(
            app, query: "rd=https%3A%2F%2Fapp.example.evil.example%2F", headers: next.refreshCookie)
        #expect(other.location == "/")
    }

    @Test func postIsNotARedirect() async throws {
        let (app, session) = try await started()
        let response = await app.send(.post("/refresh", query: "rd=/app", headers: session.refreshCookie))
        #expect(response.status.code == 200)
        #expect(response.location == nil)
    }
}
