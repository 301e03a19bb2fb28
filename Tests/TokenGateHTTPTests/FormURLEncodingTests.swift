import Testing
import TokenGateHTTP

@Suite struct FormURLEncodingTests {
    @Test func unreservedCharactersAreKept() {
        let unreserved = "ABCXYZabcxyz0189-._~"
        #expect(FormURLEncoding.percentEncode(unreserved) == unreserved)
    }

    @Test func everythingElseIsEncodedAsUppercaseUTF8() {
        #expect(FormURLEncoding.percentEncode("a b+c&d=e/f?g#h%") == "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25")
        #expect(FormURLEncoding.percentEncode("é☃") == "%C3%A9%E2%98%83")
        #expect(FormURLEncoding.percentEncode("\r\n\u{0}") == "%0D%0A%00")
    }

    @Test func encodeJoinsPairs() {
        #expect(
            FormURLEncoding.encode([("error", "invalid_credentials"), ("rd", "/app/x?y=1")])
                == "error=invalid_credentials&rd=%2Fapp%2Fx%3Fy%3D1")
        #expect(FormURLEncoding.encode([]) == "")
    }

    @Test(arguments: [
        [("username", "alice"), ("password", "p@ss w+rd&=%")],
        [("rd", "/app/x?y=1&z=2#frag"), ("empty", "")],
        [("name", "Zoë 🔑"), ("name", "second")],
        [("a", "%2F%2Fevil"), ("b", "+")],
    ])
    func decodeUndoesEncode(items: [(String, String)]) {
        let decoded = FormURLEncoding.decode(FormURLEncoding.encode(items))
        #expect(decoded.map(\.name) == items.map(\.0))
        #expect(decoded.map(\.value) == items.map(\.1))
    }

    @Test func decodeBodyRejectsInvalidUTF8() {
        #expect(FormURLEncoding.decode(body: [0x61, 0x3D, 0xFF]) == nil)
        #expect(FormURLEncoding.decode(body: Array("a=1&b=2".utf8))?.map(\.value) == ["1", "2"])
        #expect(FormURLEncoding.decode(body: [])?.isEmpty == true)
    }

    @Test func percentDecodeKeepsPlusUnlessAsked() {
        #expect(FormURLEncoding.percentDecode("a+b") == "a+b")
        #expect(FormURLEncoding.percentDecode("a+b", plusAsSpace: true) == "a b")
    }

    @Test func percentDecodeRejectsMalformedInput() {
        #expect(FormURLEncoding.percentDecode("%") == nil)
        #expect(FormURLEncoding.percentDecode("%2") == nil)
        #expect(FormURLEncoding.percentDecode("%g0") == nil)
        #expect(FormURLEncoding.percentDecode("%FF") == nil)
        #expect(FormURLEncoding.percentDecode("%E2%98") == nil)
    }

    @Test func percentDecodeDecodesOnce() {
        #expect(FormURLEncoding.percentDecode("%252F") == "%2F")
        #expect(FormURLEncoding.percentDecode("%2f%2F") == "//")
    }
}
