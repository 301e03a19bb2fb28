import Testing
import TokenGateHTTP

@Suite struct ResponseTests {
    func head(_ response: Response) -> [String] {
        let text = String(decoding: response.serialized(), as: UTF8.self)
        let head = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)[0]
        return head.split(separator: "\r\n").map(String.init)
    }

    @Test func statusLineComesFirst() {
        #expect(head(Response(status: .ok)).first == "Status: 200 OK")
        #expect(head(Response(status: .seeOther)).first == "Status: 303 See Other")
        #expect(head(Response(status: .tooManyRequests)).first == "Status: 429 Too Many Requests")
        #expect(head(Response(status: .payloadTooLarge)).first == "Status: 413 Content Too Large")
    }

    @Test func bodyFollowsTheBlankLine() {
        let response = Response.json(.ok, Array(#"{"a":1}"#.utf8))
        let bytes = response.serialized()
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix("\r\n\r\n{\"a\":1}"))
    }

    @Test func severalSetCookieFieldsAreKept() {
        var response = Response(status: .ok)
        response.setCookie(SetCookie(name: "a", value: "1", maxAge: 1))
        response.setCookie(SetCookie(name: "b", value: "2", path: "/auth", maxAge: 2))
        let cookies = head(response).filter { $0.hasPrefix("Set-Cookie: ") }
        #expect(cookies.count == 2)
        #expect(cookies.first?.hasPrefix("Set-Cookie: a=1; Path=/;") == true)
        #expect(cookies.last?.hasPrefix("Set-Cookie: b=2; Path=/auth;") == true)
    }

    @Test func contentLengthIsAddedOnce() {
        let response = Response(status: .ok, body: Array("hello".utf8))
        #expect(head(response).filter { $0.hasPrefix("Content-Length:") } == ["Content-Length: 5"])
        let explicit = Response(status: .ok, headers: Headers([("content-length", "5")]), body: Array("hello".utf8))
        #expect(head(explicit).filter { $0.lowercased().hasPrefix("content-length:") } == ["content-length: 5"])
        #expect(head(Response(status: .unauthorized)).contains("Content-Length: 0"))
    }

    @Test func noContentAndNotModifiedHaveNoContentLength() {
        #expect(!head(Response(status: .noContent)).contains { $0.hasPrefix("Content-Length") })
        #expect(!head(Response(status: Status(304))).contains { $0.hasPrefix("Content-Length") })
    }

    @Test(arguments: ["a\r\nSet-Cookie: evil=1", "a\nX-Evil: 1", "a\rb", "a\u{0}b"])
    func headerValuesWithLineBreaksAreDropped(value: String) {
        var response = Response(status: .noContent)
        response.headers.add("X-Auth-User", value)
        response.headers.add("X-Safe", "kept")
        let lines = head(response)
        #expect(!lines.contains { $0.hasPrefix("X-Auth-User") || $0.hasPrefix("Set-Cookie") || $0.hasPrefix("X-Evil") })
        #expect(lines.contains("X-Safe: kept"))
        #expect(lines.count == 2)
    }

    @Test(arguments: ["", "Bad Name", "Bad:Name", "Bad\r\nName", "Caf\u{E9}"])
    func invalidHeaderNamesAreDropped(name: String) {
        var response = Response(status: .noContent)
        response.headers.add(name, "v")
        #expect(head(response) == ["Status: 204 No Content"])
    }

    @Test func tabsAndUTF8InValuesAreWrittenAsGiven() {
        var response = Response(status: .noContent)
        response.headers.add("X-Name", "a\tb é")
        #expect(head(response).contains("X-Name: a\tb é"))
    }

    @Test func jsonSetsTheContentType() {
        let response = Response.json(.badRequest, [], headers: Headers([("Cache-Control", "no-store")]))
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.status == .badRequest)
    }

    @Test func redirectIsSeeOtherWithLocation() {
        let response = Response.redirect(to: "/app?x=1")
        #expect(response.status.code == 303)
        #expect(response.headers["Location"] == "/app?x=1")
        #expect(head(response).contains("Location: /app?x=1"))
    }

    @Test func unknownStatusesStillHaveAReasonPhrase() {
        #expect(Status(418).reasonPhrase == "Status 418")
        #expect(Status(409).description == "409 Conflict")
    }
}
