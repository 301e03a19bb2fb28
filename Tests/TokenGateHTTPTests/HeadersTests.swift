import Testing
import TokenGateHTTP

@Suite struct HeadersTests {
    @Test func lookupIgnoresCase() {
        let headers = Headers([("Content-Type", "application/json")])
        #expect(headers["content-type"] == "application/json")
        #expect(headers["CONTENT-TYPE"] == "application/json")
        #expect(headers.first("Content-type") == "application/json")
        #expect(headers["Content-Length"] == nil)
    }

    @Test func severalFieldsOfOneNameAreKeptInOrder() {
        var headers = Headers()
        headers.add("Set-Cookie", "a=1")
        headers.add("set-cookie", "b=2")
        headers.add("Cache-Control", "no-store")
        headers.add("SET-COOKIE", "c=3")
        #expect(headers.all("Set-Cookie") == ["a=1", "b=2", "c=3"])
        #expect(headers.first("set-cookie") == "a=1")
        #expect(headers.fields.count == 4)
    }

    @Test func namesKeepTheirSpelling() {
        var headers = Headers()
        headers.add("X-Auth-User", "u1")
        #expect(headers.fields.map(\.name) == ["X-Auth-User"])
        #expect(headers.map(\.name) == ["X-Auth-User"])
    }

    @Test func settingReplacesEveryFieldOfThatName() {
        var headers = Headers([("Cookie", "a=1"), ("Host", "x"), ("cookie", "b=2")])
        headers["COOKIE"] = "c=3"
        #expect(headers.all("Cookie") == ["c=3"])
        #expect(headers["Host"] == "x")
        #expect(headers.fields.count == 2)
    }

    @Test func settingNilRemovesTheField() {
        var headers = Headers([("Location", "/a"), ("location", "/b"), ("Host", "x")])
        headers["Location"] = nil
        #expect(headers["location"] == nil)
        #expect(headers.fields.count == 1)
    }

    @Test func removeDropsEveryCaseVariant() {
        var headers = Headers([("Authorization", "Bearer a"), ("AUTHORIZATION", "Bearer b"), ("Host", "x")])
        headers.remove("authorization")
        #expect(headers.all("Authorization").isEmpty)
        #expect(headers["Host"] == "x")
    }

    @Test func allOfAMissingFieldIsEmpty() {
        #expect(Headers().all("Cookie").isEmpty)
        #expect(Headers()["Cookie"] == nil)
    }

    @Test func equalityComparesNamesValuesAndOrder() {
        let headers = Headers([("A", "1"), ("B", "2")])
        #expect(headers == Headers([("A", "1"), ("B", "2")]))
        #expect(headers != Headers([("B", "2"), ("A", "1")]))
        #expect(headers != Headers([("A", "1"), ("B", "3")]))
        #expect(headers != Headers([("A", "1")]))
    }

    @Test func nonASCIINamesAreNotFoldedTogether() {
        // Only ASCII letters are case-folded; "ß" and "SS" stay different names.
        let headers = Headers([("X-Stra\u{DF}e", "1")])
        #expect(headers["X-STRASSE"] == nil)
        #expect(headers["x-stra\u{DF}e"] == "1")
    }
}
