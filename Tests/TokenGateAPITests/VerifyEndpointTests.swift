import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `GET /verify` for nginx `auth_request`: 204 with identity headers, 401, or 403 — nothing else.
@Suite struct VerifyEndpointTests {
    func verify(_ app: TestApp, _ headers: Headers, roles: String? = nil) async -> Response {
        var request = Request.get("/verify", headers: headers)
        if let roles { request.params["AUTH_REQUIRE_ROLES"] = roles }
        return await app.send(request)
    }

    @Test func validTokenAnswers204WithIdentityHeaders() async throws {
        let app = try await TestApp.make()
        let user = try await app.addUser("alice", roles: ["admin", "ops"])
        let session = try await app.login("alice")
        let claims = TokenForge.payload(of: session.access)
        let response = await verify(app, session.bearer)
        #expect(response.status.code == 204)
        #expect(response.body.isEmpty)
        #expect(response.headers["X-Auth-User"] == user.id)
        #expect(response.headers["X-Auth-Username"] == "alice")
        #expect(response.headers["X-Auth-Roles"] == "admin,ops")
        #expect(response.headers["X-Auth-Session"] == claims["sid"] as? String)
        #expect(response.headers["X-Auth-Expires"] == String(Int(app.clock.now.timeIntervalSince1970) + 900))
        #expect(response.setCookies.isEmpty)
    }

    @Test func accessCookieIsAcceptedWithoutAuthorization() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let session = try await app.login("alice")
        let response = await verify(app, Headers([("Cookie", "other=1; __Host-access=\(session.access); x=y")]))
        #expect(response.status.code == 204)
    }

    @Test func identityHeadersArePercentEncodedOutsidePrintableASCII() async throws {
        let app = try await TestApp.make()
        try await app.addUser("zoë%x", roles: [])
        let session = try await app.login("zoë%x")
        let response = await verify(app, session.bearer)
        #expect(response.status.code == 204)
        #expect(response.headers["X-Auth-Username"] == "zo%C3%AB%25x")
        #expect(response.headers["X-Auth-Roles"] == "")
    }

    @Test func missingTokenIs401WithABearerChallenge() async throws {
        let app = try await TestApp.make()
        let response = await verify(app, Headers())
        #expect(response.status.code == 401)
        #expect(response.errorCode == "invalid_token")
        #expect(response.headers["WWW-Authenticate"] == #"Bearer error="invalid_token""#)
        #expect(response.setCookies.isEmpty)
    }

    @Test(arguments: ["admin ops", "ops", "admin,ops", " ops\tadmin "])
    func anyOneRequiredRolePasses(required: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("olga", roles: ["ops"])
        let session = try await app.login("olga")
        #expect(await verify(app, session.bearer, roles: required).status.code == 204)
    }

    @Test(arguments: ["admin ops", "admin", "Ops", "op"])
    func missingRoleIs403InsufficientScope(required: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("sam", roles: ["staff", "ops-readonly"])
        let session = try await app.login("sam")
        let response = await verify(app, session.bearer, roles: required)
        #expect(response.status.code == 403)
        #expect(response.errorCode == "insufficient_scope")
        #expect(response.headers["WWW-Authenticate"] == #"Bearer error="insufficient_scope""#)
    }

    @Test(arguments: ["", " ", ","])
    func emptyRolePolicyLetsAnyValidTokenPass(required: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("sam", roles: [])
        let session = try await app.login("sam")
        #expect(await verify(app, session.bearer, roles: required).status.code == 204)
    }

    @Test func invalidTokenIs401EvenWhenARoleIsRequired() async throws {
        let app = try await TestApp.make()
        let response = await verify(app, Headers([("Authorization", "Bearer a.b.c")]), roles: "admin")
        #expect(response.status.code == 401)
    }

    @Test func tokenStaysValidWithinTheLeewayAndNotAfter() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let session = try await app.login("alice")
        app.clock.advance(by: 929)
        #expect(await verify(app, session.bearer).status.code == 204)
        app.clock.advance(by: 1)
        let expired = await verify(app, session.bearer)
        #expect(expired.status.code == 401)
        #expect(expired.errorCode == "token_expired")
    }

    @Test func rolesInTheTokenAreThoseAtLoginTime() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice", roles: ["staff"])
        let session = try await app.login("alice")
        try await app.services.users.setRoles(["admin"], username: "alice", at: app.clock.now)
        #expect(await verify(app, session.bearer, roles: "admin").status.code == 403)
        let fresh = try await app.login("alice")
        #expect(await verify(app, fresh.bearer, roles: "admin").status.code == 204)
    }

    @Test func malformedAuthorizationDoesNotFallBackToTheCookie() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let session = try await app.login("alice")
        for header in ["Bearer", "Bearer a b", "Basic x"] {
            let response = await verify(app, session.accessCookie.adding([("Authorization", header)]))
            #expect(response.status.code == 401, "Authorization: \(header)")
        }
        let twice = await verify(app, session.bearer.adding([("Authorization", "Bearer \(session.access)")]))
        #expect(twice.status.code == 401)
    }

    @Test func keyRotationLogsNobodyOutAndNewTokensUseTheNewKey() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let before = try await app.login("alice")
        #expect(await verify(app, before.bearer).status.code == 204)
        let old = try app.services.keyDirectory.load(now: app.clock.now)
        app.clock.advance(by: 60)
        let new = SigningKey.generate(now: app.clock.now)
        try await app.services.keys.replace(with: old + [new])
        #expect(await verify(app, before.bearer).status.code == 204)
        let after = try await app.login("alice")
        #expect(TokenForge.header(of: after.access)["kid"] as? String == new.kid)
        #expect(await verify(app, after.bearer).status.code == 204)
        let kids = (await app.send(.get("/.well-known/jwks.json")).json["keys"] as? [[String: Any]])?
            .compactMap { $0["kid"] as? String }
        #expect(Set(kids ?? []) == Set(old.map(\.kid) + [new.kid]))
    }

    @Test func tokenOfARemovedKeyIsRejectedEvenAfterItWasVerified() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let session = try await app.login("alice")
        // Verified (and possibly remembered) under the old key set.
        #expect(await verify(app, session.bearer).status.code == 204)
        #expect(await verify(app, session.bearer).status.code == 204)
        try await app.services.keys.replace(with: [SigningKey.generate(now: app.clock.now)])
        let response = await verify(app, session.bearer)
        #expect(response.status.code == 401)
        #expect(await app.send(.get("/me", headers: session.bearer)).status.code == 401)
    }

    @Test func cachedTokenStillExpiresAndIsStillRevoked() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let expiring = try await app.login("alice")
        let revoked = try await app.login("alice")
        #expect(await verify(app, expiring.bearer).status.code == 204)
        #expect(await verify(app, revoked.bearer).status.code == 204)
        _ = await app.send(.post("/logout", headers: revoked.refreshCookie))
        #expect(await verify(app, revoked.bearer).status.code == 401)
        app.clock.advance(by: 930)
        #expect(await verify(app, expiring.bearer).errorCode == "token_expired")
    }
}
