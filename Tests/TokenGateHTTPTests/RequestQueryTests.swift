import Testing
import TokenGateHTTP

@Suite struct RequestQueryTests {
    func items(_ query: String) -> [String] {
        Request(method: .get, path: "/", query: query).queryItems.map { "\($0.name)=\($0.value)" }
    }

    @Test func pairsArePercentDecoded() {
        #expect(items("a=1&b=x%20y&c=%2F%3F%26") == ["a=1", "b=x y", "c=/?&"])
    }

    @Test func plusMeansSpaceAndEncodedPlusIsPlus() {
        #expect(items("q=a+b&r=a%2Bb") == ["q=a b", "r=a+b"])
    }

    @Test func lowercaseHexEscapesDecode() {
        #expect(items("p=%2fapp%3fx%3d1") == ["p=/app?x=1"])
    }

    @Test func pairsWithInvalidEscapesAreDropped() {
        #expect(items("a=%zz&b=2&c=%4&d=%&%G1=x&e=ok") == ["b=2", "e=ok"])
    }

    @Test func pairsWithInvalidUTF8AreDropped() {
        #expect(items("a=%FF&b=%C3%A9&c=%C3&d=%C0%AF") == ["b=é"])
    }

    @Test func emptyNamesAndEmptyPairsAreSkipped() {
        #expect(items("&&=x&a=1&&b=&") == ["a=1", "b="])
    }

    @Test func aNameWithoutEqualsHasAnEmptyValue() {
        #expect(items("flag&a=1") == ["flag=", "a=1"])
    }

    @Test func valuesKeepLaterEqualsSigns() {
        #expect(items("rd=/a?b=c=d") == ["rd=/a?b=c=d"])
    }

    @Test func duplicatesAreKeptAndTheFirstIsTheValue() {
        let request = Request(method: .get, path: "/", query: "scope=one&scope=all")
        #expect(request.queryItems.map(\.value) == ["one", "all"])
        #expect(request.queryValue("scope") == "one")
        #expect(request.queryValue("missing") == nil)
    }

    @Test func namesAreDecodedToo() {
        #expect(Request(method: .get, path: "/", query: "r%64=x").queryValue("rd") == "x")
    }

    @Test func emptyQueryHasNoItems() {
        #expect(items("").isEmpty)
    }
}

@Suite struct RequestMediaTypeTests {
    func mediaType(_ value: String?) -> String? {
        var headers = Headers()
        if let value { headers.add("content-type", value) }
        return Request(method: .post, path: "/login", headers: headers).mediaType
    }

    @Test(arguments: [
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("Application/JSON;charset=UTF-8", "application/json"),
        ("  application/x-www-form-urlencoded  ; x=y", "application/x-www-form-urlencoded"),
        ("\ttext/plain", "text/plain"),
    ])
    func parametersAndCaseAreIgnored(value: String, expected: String) {
        #expect(mediaType(value) == expected)
    }

    @Test(arguments: ["", " ", "\t"])
    func emptyTypeIsNil(value: String) {
        #expect(mediaType(value) == nil)
    }

    @Test
    func parametersWithoutATypeAreNoType() {
        #expect(mediaType("; charset=utf-8") == nil)
        #expect(mediaType(";application/json") == nil)
    }

    @Test func missingContentTypeIsNil() {
        #expect(mediaType(nil) == nil)
    }
}
