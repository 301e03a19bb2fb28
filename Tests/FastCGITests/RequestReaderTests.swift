import Foundation
import Testing

/// FastCGI params, as nginx sends them, become the `Request` the application sees.
@Suite(.serialized) struct RequestReaderTests {
    let server = SharedServers.echo

    func echo(_ request: FastCGIRequest) throws -> Echo {
        let response = try server.connect().send(request)
        try #require(response.status == 200)
        return try Echo(response)
    }

    @Test(arguments: [
        ("/auth/login", "/login"),
        ("/auth/.well-known/jwks.json", "/.well-known/jwks.json"),
        ("/auth", "/"),
        ("/auth/", "/"),
        ("/auth/a%20b", "/a%20b"),
    ])
    func documentURIIsRelativeToTheBasePath(uri: String, path: String) throws {
        #expect(try echo(.nginx("GET", uri)).path == path)
    }

    @Test(arguments: ["/other/login", "/authx", "/", "/AUTH/login", ""])
    func documentURIOutsideTheBasePathHasNoPath(uri: String) throws {
        #expect(try echo(.nginx("GET", uri)).path == nil)
    }

    @Test func routingUsesDocumentURINotRequestURI() throws {
        // In an auth_request subrequest REQUEST_URI is the client's original URI.
        var request = FastCGIRequest.nginx("GET", "/auth/verify")
        request.params.removeAll { $0.0 == "REQUEST_URI" }
        request.params.append(("REQUEST_URI", "/app/page?x=1"))
        #expect(try echo(request).path == "/verify")
    }

    @Test func scriptNameIsUsedWithoutDocumentURI() throws {
        let request = FastCGIRequest([("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/auth/healthz")])
        #expect(try echo(request).path == "/healthz")
    }

    @Test func httpParamsBecomeLowercaseDashedHeaders() throws {
        let echo = try echo(
            .nginx(
                "GET", "/auth/me",
                headers: [
                    ("Host", "login.example"), ("X-Forwarded-For", "203.0.113.5"), ("Cookie", "a=1; b=2"),
                    ("Sec-Fetch-Site", "same-origin"),
                ]))
        #expect(echo.header("host") == ["login.example"])
        #expect(echo.header("x-forwarded-for") == ["203.0.113.5"])
        #expect(echo.header("cookie") == ["a=1; b=2"])
        #expect(echo.header("sec-fetch-site") == ["same-origin"])
        #expect(!echo.headers.contains { $0.name.uppercased() == "REQUEST_METHOD" || $0.name == "remote-addr" })
    }

    @Test func contentTypeAndContentLengthBecomeHeaders() throws {
        let body = Array(#"{"a":1}"#.utf8)
        let echo = try echo(
            .nginx("POST", "/auth/login", body: body, extra: [("CONTENT_TYPE", "application/json; charset=utf-8")]))
        #expect(echo.header("Content-Type") == ["application/json; charset=utf-8"])
        #expect(echo.header("Content-Length") == [String(body.count)])
        #expect(echo.body == body)
    }

    @Test func emptyContentTypeAndLengthAddNoHeaders() throws {
        let echo = try echo(.nginx("GET", "/auth/me", extra: [("CONTENT_TYPE", ""), ("CONTENT_LENGTH", "")]))
        #expect(echo.headers.isEmpty)
        #expect(echo.bodyLength == 0)
    }

    @Test(arguments: [("on", true), ("ON", true), ("off", false), ("", false), ("1", false)])
    func httpsParamSetsIsHTTPS(value: String, isHTTPS: Bool) throws {
        #expect(try echo(.nginx("GET", "/auth/me", extra: [("HTTPS", value)])).isHTTPS == isHTTPS)
    }

    @Test func withoutHTTPSParamTheRequestIsNotHTTPS() throws {
        #expect(try echo(.nginx("GET", "/auth/me")).isHTTPS == false)
    }

    @Test func methodQueryRemoteAddressAndParamsArePassedThrough() throws {
        let echo = try echo(
            .nginx(
                "DELETE", "/auth/x", query: "rd=/app?y=1&z=%20",
                extra: [("AUTH_REQUIRE_ROLES", "admin ops"), ("REQUEST_SCHEME", "https")]))
        #expect(echo.method == "DELETE")
        #expect(echo.query == "rd=/app?y=1&z=%20")
        #expect(echo.remoteAddress == "192.0.2.7")
        #expect(echo.params["AUTH_REQUIRE_ROLES"] == "admin ops")
        #expect(echo.params["REQUEST_SCHEME"] == "https")
        #expect(echo.params["FCGI_ROLE"] == "RESPONDER")
    }

    @Test func longNamesAndValuesUseFourByteLengths() throws {
        let longValue = String(repeating: "v", count: 300)
        let longName = "HTTP_X_" + String(repeating: "N", count: 200)
        let echo = try echo(
            .nginx("GET", "/auth/me", extra: [(longName, longValue), ("X_BORDER", String(repeating: "b", count: 127))]))
        #expect(echo.header("x-" + String(repeating: "n", count: 200)) == [longValue])
        #expect(echo.params["X_BORDER"]?.count == 127)
    }

    @Test func paramsSplitAcrossManyRecordsAreJoined() throws {
        var request = FastCGIRequest.nginx("GET", "/auth/me", headers: [("Authorization", "Bearer abc.def.ghi")])
        request.paramsChunkSize = 5
        let echo = try echo(request)
        #expect(echo.path == "/me")
        #expect(echo.header("authorization") == ["Bearer abc.def.ghi"])
    }

    @Test func utf8HeaderValuesArePreserved() throws {
        let echo = try echo(.nginx("GET", "/auth/me", headers: [("X-Name", "caf\u{E9}")]))
        #expect(echo.header("x-name") == ["café"])
    }
}
