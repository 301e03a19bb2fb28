import TokenGateHTTP

/// `Cookie` header parsing (`CookieParser`, `Request.cookies`): every pair has a non-empty,
/// trimmed name without `;` or `=`, no value contains `;`, and several `Cookie` fields parse
/// as their concatenation.
struct CookieFuzzTarget: FuzzTarget {
    static let name = "cookie"

    func run(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let split = input.byte()
        let header = String(fuzzBytes: input.rest)
        let pairs = CookieParser.parse(header)
        for pair in pairs {
            FuzzCheck.require(!pair.name.isEmpty, "empty cookie name from \(header.debugDescription)")
            FuzzCheck.require(
                !pair.name.contains(";") && !pair.name.contains("="), "bad name \(pair.name.debugDescription)")
            FuzzCheck.require(!pair.value.contains(";"), "value with ; \(pair.value.debugDescription)")
            FuzzCheck.require(!Self.hasEdgeSpace(pair.name), "untrimmed name \(pair.name.debugDescription)")
        }
        // Two header fields (nginx may pass a duplicated Cookie header joined, or apart).
        let utf8 = Array(header.utf8)
        let cut = utf8.isEmpty ? 0 : Int(split) % (utf8.count + 1)
        let first = String(fuzzBytes: utf8[..<cut])
        let second = String(fuzzBytes: utf8[cut...])
        let request = Request(method: .get, path: "/me", headers: Headers([("Cookie", first), ("Cookie", second)]))
        let expected = CookieParser.parse(first) + CookieParser.parse(second)
        let cookies = request.cookies
        FuzzCheck.require(cookies.count == expected.count, "cookie count differs across fields")
        for (got, want) in zip(cookies, expected) {
            FuzzCheck.require(got.name == want.name && got.value == want.value, "cookie order differs across fields")
        }
        if let firstCookie = cookies.first {
            FuzzCheck.require(request.cookie(firstCookie.name) == firstCookie.value, "lookup is not the first match")
        }
    }

    private static func hasEdgeSpace(_ value: String) -> Bool {
        let edges = [value.utf8.first, value.utf8.last]
        return edges.contains(UInt8(ascii: " ")) || edges.contains(UInt8(ascii: "\t"))
    }
}
