import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// The route table as a whole: unknown paths, wrong methods, health and the JWK Set.
@Suite struct RoutingTests {
    @Test(arguments: ["/nope", "/login/", "/LOGIN", "/auth/login", "/.well-known/", "/metrics/x"])
    func unknownPathIs404NotFound(path: String) async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get(path))
        #expect(response.status.code == 404)
        #expect(response.errorCode == "not_found")
        #expect(response.json["message"] is String)
    }

    @Test func requestOutsideTheBasePathIs404() async throws {
        let app = try await TestApp.make()
        let response = await app.send(Request(method: .get, path: nil))
        #expect(response.status.code == 404)
        #expect(response.errorCode == "not_found")
    }

    @Test(arguments: [
        ("GET", "/login", "POST"), ("PUT", "/logout", "POST"), ("POST", "/me", "GET, HEAD"),
        ("DELETE", "/verify", "GET, HEAD"), ("POST", "/healthz", "GET, HEAD"), ("PATCH", "/refresh", "POST, GET"),
    ])
    func wrongMethodIs405WithAllow(method: String, path: String, allow: String) async throws {
        let app = try await TestApp.make()
        let response = await app.send(Request(method: Method(rawValue: method), path: path))
        #expect(response.status.code == 405)
        #expect(response.errorCode == "method_not_allowed")
        #expect(response.headers["Allow"] == allow)
    }

    @Test func wrongMethodWinsOverABodyTooLarge() async throws {
        let app = try await TestApp.make()
        var request = Request(method: .put, path: "/login")
        request.isBodyTooLarge = true
        #expect(await app.send(request).status.code == 405)
    }

    @Test func healthzAnswersOK() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get("/healthz"))
        #expect(response.status.code == 200)
        #expect(response.json["status"] as? String == "ok")
        #expect(response.headers["Content-Type"] == "application/json")
    }

    @Test func headIsAnsweredByTheGetRoute() async throws {
        let app = try await TestApp.make()
        let response = await app.send(Request(method: .head, path: "/healthz"))
        #expect(response.status.code == 200)
    }

    @Test func jwksListsTheSigningKeyAsAnEd25519JWK() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get("/.well-known/jwks.json"))
        #expect(response.status.code == 200)
        #expect(response.headers["Cache-Control"]?.hasPrefix("public, max-age=") == true)
        #expect(response.headers["Content-Type"] == "application/jwk-set+json")
        let keys = try #require(response.json["keys"] as? [[String: Any]])
        #expect(keys.count == 1)
        let key = try #require(keys.first)
        #expect(key["kty"] as? String == "OKP")
        #expect(key["crv"] as? String == "Ed25519")
        #expect(key["alg"] as? String == "EdDSA")
        #expect(key["kid"] as? String == app.services.keys.signingKid)
        #expect((key["x"] as? String).flatMap(Base64URL.decode)?.count == 32)
        #expect(key["d"] == nil)
        #expect(!String(decoding: response.body, as: UTF8.self).contains("\"d\""))
    }

    @Test func jwksKeyVerifiesIssuedTokens() async throws {
        let app = try await TestApp.make()
        try await app.addUser("alice")
        let session = try await app.login("alice")
        let jwks = await app.send(.get("/.well-known/jwks.json")).json["keys"] as? [[String: Any]] ?? []
        let kid = TokenForge.header(of: session.access)["kid"] as? String
        let key = try #require(jwks.first { $0["kid"] as? String == kid })
        #expect(key["x"] as? String == Base64URL.encode(try TokenForge(app: app).publicKey))
    }

    @Test func errorBodiesCarryOnlyCodeAndMessage() async throws {
        let app = try await TestApp.make()
        let response = await app.send(.get("/nope"))
        #expect(Set(response.json.keys) == ["error", "message"])
        #expect(response.headers["Cache-Control"] == "no-store")
    }
}
