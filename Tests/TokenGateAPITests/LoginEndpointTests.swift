import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// `POST /login` with JSON and with an HTML form (DESIGN §2 Login).
@Suite struct LoginEndpointTests {
    func credentials(_ username: String, _ password: String = TestApp.password) -> Request {
        .json(.post, "/login", ["username": username, "password": password])
    }

    @Test func jsonLoginAnswersTokensAndSetsBothCookies() async throws {
        let app = try await TestApp.make()
        let user = try await app.addUser("alice", name: "Alice Liddell", roles: ["admin", "staff"])
        let response = await app.send(credentials("alice"))
        #expect(response.status.code == 200)
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.headers["Content-Type"] == "application/json")
        let body = response.json
        let accessToken = try #require(body["accessToken"] as? String)
        #expect(accessToken.split(separator: ".").count == 3)
        #expect(body["tokenType"] as? String == "Bearer")
        #expect(body["expiresIn"] as? Int == 900)
        let userObject = try #require(body["user"] as? [String: Any])
        #expect(userObject["id"] as? String == user.id)
        #expect(userObject["username"] as? String == "alice")
        #expect(userObject["name"] as? String == "Alice Liddell")
        #expect(userObject["roles"] as? [String] == ["admin", "staff"])
        #expect(Set(body.keys) == ["accessToken", "tokenType", "expiresIn", "user"])

        #expect(response.setCookies.count == 2)
        #expect(
            response.setCookie("__Host-access")
                == "__Host-access=\(accessToken); Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax")
        let refresh = try #require(response.cookieValue("__Secure-refresh"))
        #expect(refresh.utf8.count == 43)
        #expect(
            response.setCookie("__Secure-refresh")
                == "__Secure-refresh=\(refresh); Path=/auth; Max-Age=604800; Secure; HttpOnly; SameSite=Lax")
        // The refresh token travels only in its cookie.
        #expect(!String(decoding: response.body, as: UTF8.self).contains(refresh))
    }

    @Test func accessTokenCarriesTheContractClaims() async throws {
        let app = try await TestApp.make()
        let user = try await app.addUser("alice", roles: ["ops"])
        let session = try await app.login("alice")
        let header = TokenForge.header(of: session.access)
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "at+jwt")
        #expect(header["kid"] as? String == app.services.keys.signingKid)
        let claims = TokenForge.payload(of: session.access)
        #expect(claims["iss"] as? String == "tokengate")
        #expect(claims["aud"] as? String == "tokengate")
        #expect(claims["sub"] as? String == user.id)
        #expect(claims["roles"] as? [String] == ["ops"])
        #expect(claims["preferred_username"] as? String == "alice")
        let iat = try #require(claims["iat"] as? Double)
        #expect(iat == app.clock.now.timeIntervalSince1970)
        #expect(claims["exp"] as? Double == iat + 900)
        #expect((claims["sid"] as? String)?.isEmpty == false)
        #expect((claims["jti"] as? String)?.isEmpty == false)
    }

    @Test(arguments: ["ALICE", "Alice", "  alice  "])
    func usernamesAreCaseInsensitive(typed: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("Alice")
        let response = await app.send(credentials(typed))
        #expect(response.status.code == 200)
        #expect((response.json["user"] as? [String: Any])?["username"] as? String == "alice")
    }

    @Test
    func decomposedUnicodeUsernameIsTheSameAccount() async throws {
        let app = try await TestApp.make()
        try await app.addUser("zo\u{EB}")
        #expect(await app.send(credentials("zoe\u{308}")).status.code == 200)
        await #expect(throws: TokenGateError.self) { try await app.addUser("ZOE\u{308}") }
    }

    @Test func wrongPasswordAndUnknownUserAnswerIdentically() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let wrongPassword = await app.send(credentials("alice", "not the password"))
        let unknownUser = await app.send(credentials("mallory", "not the password"))
        #expect(wrongPassword.status.code == 401)
        #expect(wrongPassword.errorCode == "invalid_credentials")
        #expect(unknownUser.status == wrongPassword.status)
        #expect(unknownUser.body == wrongPassword.body)
        #expect(unknownUser.headers == wrongPassword.headers)
        #expect(wrongPassword.setCookies.isEmpty)
    }

    @Test func disabledAccountIsRevealedOnlyAfterTheRightPassword() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        try await app.services.users.setDisabled(true, username: "alice", at: app.clock.now)
        let right = await app.send(credentials("alice"))
        #expect(right.status.code == 403)
        #expect(right.errorCode == "account_disabled")
        #expect(right.setCookies.isEmpty)
        let wrong = await app.send(credentials("alice", "guess guess"))
        #expect(wrong.status.code == 401)
        #expect(wrong.errorCode == "invalid_credentials")
    }

    @Test(arguments: [
        "{", "[]", "\"alice\"", "null", #"{"username":"alice"}"#, #"{"password":"x"}"#,
        #"{"username":1,"password":"correct horse battery staple"}"#, #"{"username":"alice","password":["x"]}"#,
        #"{"username":"","password":"x"}"#, #"{"username":"alice","password":""}"#, "",
    ])
    func malformedJSONIsAnInvalidRequest(body: String) async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let response = await app.send(.raw(.post, "/login", body: Array(body.utf8), contentType: "application/json"))
        #expect(response.status.code == 400)
        #expect(response.errorCode == "invalid_request")
        #expect(response.json["message"] is String)
    }

    @Test func overlongUsernameOrPasswordIsAnInvalidRequest() async throws {
        let app = try await TestApp.make()
        let longName = await app.send(credentials(String(repeating: "a", count: 65), "whatever1"))
        #expect(longName.errorCode == "invalid_request")
        let longPassword = await app.send(credentials("alice", String(repeating: "p", count: 1025)))
        #expect(longPassword.errorCode == "invalid_request")
    }

    @Test(arguments: [nil, "text/plain", "application/xml", "multipart/form-data; boundary=x", "json"])
    func otherContentTypesAreUnsupported(contentType: String?) async throws {
        let app = try await TestApp.make()
        let body = Array(#"{"username":"alice","password":"correct horse battery staple"}"#.utf8)
        let response = await app.send(.raw(.post, "/login", body: body, contentType: contentType))
        #expect(response.status.code == 415)
        #expect(response.errorCode == "unsupported_media_type")
    }

    @Test func jsonContentTypeWithParametersIsAccepted() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let body = Array(#"{"username":"alice","password":"correct horse battery staple"}"#.utf8)
        let response = await app.send(.raw(.post, "/login", body: body, contentType: "Application/JSON; charset=utf-8"))
        #expect(response.status.code == 200)
    }

    @Test func bodyOverTheLimitIs413() async throws {
        let app = try await TestApp.make()
        var request = credentials("alice")
        request.body = []
        request.isBodyTooLarge = true
        let response = await app.send(request)
        #expect(response.status.code == 413)
        #expect(response.errorCode == "payload_too_large")
    }

    @Test func formLoginRedirectsToTheSanitizedTargetWithCookies() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let response = await app.send(
            .form("/login", [("username", "alice"), ("password", TestApp.password), ("rd", "/app/x?y=1")]))
        #expect(response.status.code == 303)
        #expect(response.location == "/app/x?y=1")
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.cookieValue("__Host-access")?.isEmpty == false)
        #expect(response.cookieValue("__Secure-refresh")?.utf8.count == 43)
        #expect(response.body.isEmpty)
    }

    @Test(arguments: [nil, "//evil.example/", "https://evil.example/", "javascript:alert(1)"])
    func formLoginToAnUnsafeOrMissingTargetGoesHome(rd: String?) async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        var fields = [("username", "alice"), ("password", TestApp.password)]
        if let rd { fields.append(("rd", rd)) }
        let response = await app.send(.form("/login", fields))
        #expect(response.status.code == 303)
        #expect(response.location == "/")
    }

    @Test func failedFormLoginReturnsToTheLoginPageWithErrorAndTarget() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let response = await app.send(
            .form("/login", [("username", "alice"), ("password", "nope"), ("rd", "/app/x?y=1")]))
        #expect(response.status.code == 303)
        #expect(response.location?.hasPrefix("/login.html?") == true)
        #expect(response.locationQueryValue("error") == "invalid_credentials")
        #expect(response.locationQueryValue("rd") == "/app/x?y=1")
        #expect(response.setCookies.isEmpty)
    }

    @Test func failedFormLoginWithAnUnsafeTargetDropsIt() async throws {
        let app = try await TestApp.make()
        let response = await app.send(
            .form("/login", [("username", "x"), ("password", "y"), ("rd", "//evil.example")]))
        #expect(response.status.code == 303)
        #expect(response.location == "/login.html?error=invalid_credentials")
    }

    @Test func formWithMissingFieldsGoesBackWithInvalidRequest() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.form("/login", [("username", "alice")]))
        #expect(response.status.code == 303)
        #expect(response.locationQueryValue("error") == "invalid_request")
    }

    @Test func loginStartsIndependentSessions() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let first = try await app.login("alice")
        let second = try await app.login("alice")
        #expect(first.refresh != second.refresh)
        #expect(
            TokenForge.payload(of: first.access)["sid"] as? String != TokenForge.payload(of: second.access)["sid"]
                as? String)
    }
}
