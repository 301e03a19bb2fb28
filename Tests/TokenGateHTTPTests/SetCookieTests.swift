import Testing
import TokenGateHTTP

@Suite struct SetCookieTests {
    @Test func defaultsAreSecureHttpOnlyLax() {
        let cookie = SetCookie(name: "__Host-access", value: "jwt", maxAge: 900)
        #expect(cookie.headerValue == "__Host-access=jwt; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax")
    }

    @Test func pathAndMaxAgeAreWritten() {
        let cookie = SetCookie(name: "__Secure-refresh", value: "r", path: "/auth", maxAge: 604_800)
        #expect(
            cookie.headerValue == "__Secure-refresh=r; Path=/auth; Max-Age=604800; Secure; HttpOnly; SameSite=Lax")
    }

    @Test func attributesCanBeTurnedOff() {
        let cookie = SetCookie(name: "n", value: "v", maxAge: 1, isSecure: false, isHTTPOnly: false, sameSite: nil)
        #expect(cookie.headerValue == "n=v; Path=/; Max-Age=1")
    }

    @Test(arguments: [(SetCookie.SameSite.strict, "Strict"), (.lax, "Lax"), (.none, "None")])
    func sameSiteIsSpelledAsBrowsersExpect(sameSite: SetCookie.SameSite, text: String) {
        let cookie = SetCookie(name: "n", value: "v", maxAge: 1, sameSite: sameSite)
        #expect(cookie.headerValue.hasSuffix("; SameSite=\(text)"))
    }

    @Test func clearedKeepsNamePathAndAttributes() {
        let cookie = SetCookie(
            name: "__Secure-refresh", value: "secret", path: "/auth", maxAge: 3600, sameSite: .strict)
        let cleared = cookie.cleared
        #expect(cleared.name == cookie.name)
        #expect(cleared.path == cookie.path)
        #expect(cleared.value == "")
        #expect(cleared.maxAge == 0)
        #expect(cleared.headerValue == "__Secure-refresh=; Path=/auth; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
        #expect(!cleared.headerValue.contains("secret"))
    }
}
