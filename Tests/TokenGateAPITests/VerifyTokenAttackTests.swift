import Crypto
import Foundation
import Testing
import TokenGateApp
import TokenGateAuth
import TokenGateHTTP

/// Hostile tokens at `/verify`: every one is a 401 — never a 2xx and never a 5xx, which nginx
/// would turn into a 500 for the user (DESIGN §2 Verify, §3 Tokens).
@Suite struct VerifyTokenAttackTests {
    /// An app with a logged-in user, a valid token, its claims and a forge holding the app's key.
    struct Fixture {
        let app: TestApp
        let session: TestApp.Session
        let claims: [String: Any]
        let forge: TokenForge

        init() async throws {
            app = try await TestApp.make()
            try await app.addUser("alice", roles: ["staff"])
            session = try await app.login("alice")
            claims = TokenForge.payload(of: session.access)
            forge = try TokenForge(app: app)
        }

        func claims(_ changes: [String: Any], removing: [String] = []) -> [String: Any] {
            var copy = claims.merging(changes) { $1 }
            for key in removing { copy[key] = nil }
            return copy
        }

        func status(of token: String) async -> Int {
            await app.send(.get("/verify", headers: Headers([("Authorization", "Bearer \(token)")]))).status.code
        }

        func expectRejected(_ token: String, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation)
            async
        {
            let response = await app.send(.get("/verify", headers: Headers([("Authorization", "Bearer \(token)")])))
            #expect(response.status.code == 401, comment, sourceLocation: sourceLocation)
            #expect(
                response.headers["WWW-Authenticate"] == #"Bearer error="invalid_token""#, comment,
                sourceLocation: sourceLocation)
        }
    }

    @Test func forgedTokensWithTheRealKeyAndRealClaimsPass() async throws {
        // The control: the forge makes tokens the gate accepts, so each refusal below is about
        // the one thing that test changes.
        let fixture = try await Fixture()
        let forge = fixture.forge
        #expect(await fixture.status(of: forge.sign(header: forge.header(), claims: fixture.claims)) == 204)
        for typ in ["AT+JWT", "application/at+jwt"] {
            #expect(await fixture.status(of: forge.sign(header: forge.header(typ: typ), claims: fixture.claims)) == 204)
        }
        let audiences = fixture.claims(["aud": ["other", "tokengate"]])
        #expect(await fixture.status(of: forge.sign(header: forge.header(), claims: audiences)) == 204)
    }

    @Test func headersAndClaimsMustBeStrictJSONObjects() async throws {
        // RFC 7515 §4, RFC 7519 §7.2: JSONDecoder keeps the first of two equal names and accepts
        // invalid UTF-8; a JWKS consumer keeping the last would read another identity. Found by
        // the token-mutation fuzz target (Tests/Fuzz).
        let fixture = try await Fixture()
        let forge = fixture.forge
        func json(_ object: [String: Any]) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
        let header = json(forge.header())
        let claims = json(fixture.claims)
        // Control: the same JSON with spaces, escapes and nesting around it passes.
        let spaced = " {\n \"k\\u0069d\" : \"\(forge.kid)\",\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"x\":[{\"a\":\"}\"}] }\n"
        #expect(await fixture.status(of: forge.sign(rawHeader: Array(spaced.utf8), rawClaims: Array(claims.utf8))) == 204)

        let duplicateKid = "{\"kid\":\"other\"," + header.dropFirst()
        await fixture.expectRejected(
            forge.sign(rawHeader: Array(duplicateKid.utf8), rawClaims: Array(claims.utf8)), "duplicate kid")
        let duplicateSub = "{\"s\\u0075b\":\"someone-else\"," + claims.dropFirst()
        await fixture.expectRejected(
            forge.sign(rawHeader: Array(header.utf8), rawClaims: Array(duplicateSub.utf8)), "duplicate sub, escaped")
        var badHeader = Array(header.dropLast().utf8) + Array(#","x":""#.utf8)
        badHeader += [0xF3, UInt8(ascii: "\""), UInt8(ascii: "}")]
        await fixture.expectRejected(forge.sign(rawHeader: badHeader, rawClaims: Array(claims.utf8)), "bad UTF-8 in header")
        var badClaims = Array(claims.dropLast().utf8) + Array(#","x":""#.utf8)
        badClaims += [0xC3, UInt8(ascii: "\""), UInt8(ascii: "}")]
        await fixture.expectRejected(forge.sign(rawHeader: Array(header.utf8), rawClaims: badClaims), "bad UTF-8 in claims")
    }

    @Test func algorithmNoneIsRejected() async throws {
        let fixture = try await Fixture()
        for alg in ["none", "None", "NONE"] {
            let header = TokenForge.segment(fixture.forge.header(alg: alg))
            let body = TokenForge.segment(fixture.claims)
            await fixture.expectRejected("\(header).\(body).", "alg \(alg), empty signature")
            await fixture.expectRejected("\(header).\(body).AAAA", "alg \(alg), junk signature")
            let signed = fixture.forge.sign(header: fixture.forge.header(alg: alg), claims: fixture.claims)
            await fixture.expectRejected(signed, "alg \(alg), real signature")
        }
    }

    @Test func hs256WithThePublicKeyAsSecretIsRejected() async throws {
        let fixture = try await Fixture()
        let header = fixture.forge.header(alg: "HS256")
        let jwk = Base64URL.encode(fixture.forge.publicKey)
        for secret in [fixture.forge.publicKey, Array(jwk.utf8), Array(fixture.app.services.keys.jwks)] {
            let token = TokenForge.hs256(header: header, claims: fixture.claims, secret: secret)
            await fixture.expectRejected(token, "HS256 keyed with public material")
        }
    }

    @Test func unknownKidIsRejected() async throws {
        let fixture = try await Fixture()
        for kid in ["unknown", "", "../keys/x", String(repeating: "k", count: 300)] {
            await fixture.expectRejected(
                fixture.forge.sign(header: fixture.forge.header(kid: kid), claims: fixture.claims), "kid \(kid)")
        }
        var header = fixture.forge.header()
        header["kid"] = nil
        await fixture.expectRejected(fixture.forge.sign(header: header, claims: fixture.claims), "no kid")
    }

    @Test func knownKidOnATokenSignedByAnotherKeyIsRejected() async throws {
        let fixture = try await Fixture()
        let impostor = Curve25519.Signing.PrivateKey()
        let token = fixture.forge.sign(header: fixture.forge.header(), claims: fixture.claims, with: impostor)
        await fixture.expectRejected(token, "kid copied from the JWKS, signed by another Ed25519 key")
    }

    @Test func claimsOutsideTheirValidityAreRejected() async throws {
        let fixture = try await Fixture()
        let now = fixture.app.clock.now.timeIntervalSince1970
        let cases: [(String, [String: Any])] = [
            ("expired beyond the leeway", ["exp": now - 31]),
            ("nbf in the future", ["nbf": now + 120]),
            ("iat in the future", ["iat": now + 120, "exp": now + 1000]),
            ("exp as a string", ["exp": String(Int(now) + 600)]),
            ("nbf as a string", ["nbf": String(Int(now))]),
            ("iat as a string", ["iat": String(Int(now))]),
            ("roles not a list", ["roles": "admin"]),
            ("sub missing", ["sub": NSNull()]),
        ]
        for (name, changes) in cases {
            let token = fixture.forge.sign(header: fixture.forge.header(), claims: fixture.claims(changes))
            await fixture.expectRejected(token, "\(name)")
        }
        let noExp = fixture.claims([:], removing: ["exp"])
        await fixture.expectRejected(fixture.forge.sign(header: fixture.forge.header(), claims: noExp), "no exp")
    }

    @Test func wrongIssuerAudienceOrTypeIsRejected() async throws {
        let fixture = try await Fixture()
        let forge = fixture.forge
        for (name, changes) in [
            ("iss", ["iss": "someone-else"]), ("aud", ["aud": "another-service"]), ("aud list", ["aud": ["a", "b"]]),
        ] as [(String, [String: Any])] {
            await fixture.expectRejected(forge.sign(header: forge.header(), claims: fixture.claims(changes)), "\(name)")
        }
        for typ in ["JWT", "at+jwt+x", "application/jwt", ""] {
            await fixture.expectRejected(
                forge.sign(header: forge.header(typ: typ), claims: fixture.claims), "typ \(typ)")
        }
        await fixture.expectRejected(forge.sign(header: forge.header(typ: nil), claims: fixture.claims), "no typ")
        let critical = forge.header(extra: ["crit": ["exp-extension"], "exp-extension": true])
        await fixture.expectRejected(forge.sign(header: critical, claims: fixture.claims), "unknown crit")
    }

    @Test func tamperedTruncatedOrSplicedTokensAreRejected() async throws {
        let fixture = try await Fixture()
        let token = fixture.session.access
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let elevated = TokenForge.segment(fixture.claims(["roles": ["staff", "admin"]]))
        await fixture.expectRejected("\(parts[0]).\(elevated).\(parts[2])", "payload re-encoded, old signature")
        await fixture.expectRejected("\(parts[0]).\(parts[1]).", "signature stripped")
        await fixture.expectRejected("\(parts[0]).\(parts[1])", "two segments")
        await fixture.expectRejected(String(token.dropLast(5)), "truncated")
        await fixture.expectRejected(token + "A", "one character more")
        await fixture.expectRejected(token + ".\(parts[2])", "four segments")
        let other = try await fixture.app.login("alice")
        let otherSignature = other.access.split(separator: ".").last.map(String.init) ?? ""
        await fixture.expectRejected("\(parts[0]).\(parts[1]).\(otherSignature)", "signature from another token")
    }

    @Test func garbageIsRejected() async throws {
        let fixture = try await Fixture()
        for garbage in ["!!!.@@@.###", "a.b.c", "....", "e30.e30.e30", "eyJhbGciOiJFZERTQSJ9", "%00.%00.%00", "🙂.🙂.🙂"] {
            await fixture.expectRejected(garbage, "\(garbage)")
        }
        let notAnObject = Base64URL.encode(Array("[1,2]".utf8))
        await fixture.expectRejected("\(notAnObject).\(notAnObject).AAAA", "JSON arrays")
    }

    @Test func tokensOverTheSizeCapAreRejectedEvenWhenValidlySigned() async throws {
        let fixture = try await Fixture()
        let padded = fixture.claims(["padding": String(repeating: "x", count: 8192)])
        let token = fixture.forge.sign(header: fixture.forge.header(), claims: padded)
        #expect(token.utf8.count > 8192)
        await fixture.expectRejected(token, "over 8 KiB")
        await fixture.expectRejected(String(repeating: "a", count: 100_000), "100 kB of junk")
    }

    @Test func emptyBearerIsRejected() async throws {
        let fixture = try await Fixture()
        for header in ["Bearer ", "Bearer", "Bearer  "] {
            let response = await fixture.app.send(.get("/verify", headers: Headers([("Authorization", header)])))
            #expect(response.status.code == 401)
        }
    }

    @Test func revokedSessionTokenIsRejectedAtOnce() async throws {
        let fixture = try await Fixture()
        #expect(await fixture.status(of: fixture.session.access) == 204)
        _ = await fixture.app.send(.post("/logout", headers: fixture.session.refreshCookie))
        await fixture.expectRejected(fixture.session.access, "after logout")
    }
}
