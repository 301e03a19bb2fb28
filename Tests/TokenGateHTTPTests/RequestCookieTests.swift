import Testing
import TokenGateHTTP

@Suite struct RequestCookieTests {
    func request(cookies: String...) -> Request {
        Request(method: .get, path: "/me", headers: Headers(cookies.map { ("Cookie", $0) }))
    }

    @Test func pairsAreSplitOnSemicolons() {
        let cookies = request(cookies: "a=1; b=2;c=3").cookies
        #expect(cookies.map(\.name) == ["a", "b", "c"])
        #expect(cookies.map(\.value) == ["1", "2", "3"])
    }

    @Test func severalCookieHeadersAreReadInOrder() {
        let request = Request(
            method: .get, path: "/me", headers: Headers([("Cookie", "a=1; b=2"), ("Host", "x"), ("cookie", "c=3")]))
        #expect(request.cookies.map(\.name) == ["a", "b", "c"])
        #expect(request.cookie("c") == "3")
    }

    @Test func theFirstCookieOfANameWins() {
        let request = request(cookies: "__Host-access=first", "__Host-access=second")
        #expect(request.cookie("__Host-access") == "first")
    }

    @Test func oneLayerOfQuotesIsRemoved() {
        let request = request(cookies: #"a="quoted value"; b=""; c=""x""; d=""#)
        #expect(request.cookie("a") == "quoted value")
        #expect(request.cookie("b") == "")
        #expect(request.cookie("c") == #""x""#)
        #expect(request.cookie("d") == "\"")
    }

    @Test func pairsWithoutEqualsOrNameAreSkipped() {
        let request = request(cookies: "flag; a=1; =orphan; ; b=2")
        #expect(request.cookies.map(\.name) == ["a", "b"])
        #expect(request.cookie("flag") == nil)
    }

    @Test func spacesAroundNamesAndValuesAreTrimmed() {
        let request = request(cookies: "  a =  1  ;\tb=2\t")
        #expect(request.cookie("a") == "1")
        #expect(request.cookie("b") == "2")
    }

    @Test func valuesMayContainEquals() {
        #expect(request(cookies: "t=abc==; u=x=y").cookie("t") == "abc==")
        #expect(request(cookies: "t=abc==; u=x=y").cookie("u") == "x=y")
    }

    @Test func namesAreCaseSensitive() {
        let request = request(cookies: "Session=1")
        #expect(request.cookie("session") == nil)
        #expect(request.cookie("Session") == "1")
    }

    @Test func noCookieHeaderMeansNoCookies() {
        #expect(Request(method: .get, path: "/").cookies.isEmpty)
        #expect(Request(method: .get, path: "/").cookie("a") == nil)
    }

    @Test func cookieParserParsesOneHeaderValue() {
        let pairs = CookieParser.parse("x=1;y=2")
        #expect(pairs.map(\.name) == ["x", "y"])
        #expect(CookieParser.parse("").isEmpty)
        #expect(CookieParser.parse(";;;").isEmpty)
    }
}
