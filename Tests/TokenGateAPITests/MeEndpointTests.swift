import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `GET /me`: the user behind the access token, from `Authorization: Bearer` or the access cookie.
@Suite struct MeEndpointTests {
    func started() async throws -> (TestApp, User, TestApp.Session) {
        let app = try await TestApp.make()
        let user = try await app.addUser("alice", name: "Alice Liddell", roles: ["admin", "ops"])
        return (app, user, try await app.login("alice"))
    }

    @Test func bearerTokenShowsTheUser() async throws {
        let (app, user, session) = try await started()
        let response = await app.send(.get("/me", headers: session.bearer))
        #expect(response.status.code == 200)
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.json["id"] as? String == user.id)
        #expect(response.json["username"] as? String == "alice")
        #expect(response.json["name"] as? String == "Alice Liddell")
        #expect(response.json["roles"] as? [String] == ["admin", "ops"])
        #expect(Set(response.json.keys) == ["id", "username", "name", "roles"])
    }

    @Test func accessCookieShowsTheUser() async throws {
        let (app, user, session) = try await started()
        let response = await app.send(.get("/me", headers: session.accessCookie))
        #expect(response.status.code == 200)
        #expect(response.json["id"] as? String == user.id)
    }

    @Test(arguments: ["bearer", "BEARER", "Bearer", "bEaReR"])
    func schemeIsCaseInsensitive(scheme: String) async throws {
        let (app, _, session) = try await started()
        let response = await app.send(.get("/me", headers: Headers([("Authorization", "\(scheme) \(session.access)")])))
        #expect(response.status.code == 200)
    }

    @Test func expiredTokenIsTokenExpired() async throws {
        let (app, _, session) = try await started()
        app.clock.advance(by: 900 + 29)
        #expect(await app.send(.get("/me", headers: session.bearer)).status.code == 200)
        app.clock.advance(by: 1)
        let response = await app.send(.get("/me", headers: session.bearer))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "token_expired")
        #expect(response.headers["WWW-Authenticate"] == #"Bearer error="invalid_token""#)
    }

    @Test func missingTokenIsInvalidToken() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get("/me"))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
        #expect(response.headers["WWW-Authenticate"] == #"Bearer error="invalid_token""#)
    }

    /// Malformed `Authorization` values, sent next to a valid access cookie.
    static let malformedAuthorizations = [
        "Bearer", "Bearer ", "Bearer a b", "Basic YWxpY2U6cHc=", "Token abc", "Bearer\tabc", "BearerX abc", "",
    ]

    @Test(arguments: malformedAuthorizations)
    func malformedAuthorizationIsInvalidAndDoesNotFallBackToTheCookie(header: String) async throws {
        let (app, _, session) = try await started()
        let request = Request.get("/me", headers: session.accessCookie.adding([("Authorization", header)]))
        let response = await app.send(request)
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
    }

    @Test func twoAuthorizationHeadersAreInvalidEvenIfBothAreValid() async throws {
        let (app, _, session) = try await started()
        let other = try await app.login("alice")
        let response = await app.send(
            .get("/me", headers: session.bearer.adding(other.bearer.fields.map { ($0.name, $0.value) })))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
    }

    @Test func bearerWithExtraTokenPartsIsInvalid() async throws {
        let (app, _, session) = try await started()
        let response = await app.send(
            .get("/me", headers: Headers([("Authorization", "Bearer \(session.access) extra")])))
        #expect(response.status.code == 401)
    }

    @Test func disabledUserIsRefused() async throws {
        let (app, _, session) = try await started()
        try await app.services.users.setDisabled(true, username: "alice", at: app.clock.now)
        let response = await app.send(.get("/me", headers: session.bearer))
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
    }

    @Test func refreshTokenIsNotAnAccessToken() async throws {
        let (app, _, session) = try await started()
        let response = await app.send(.get("/me", headers: Headers([("Authorization", "Bearer \(session.refresh)")])))
        #expect(response.status.code == 401)
    }
}
