import TokenGateHTTP

/// The two cookies of DESIGN §3, set and cleared with identical name, path and attributes.
struct SessionCookies {
    let settings: WebSettings

    func access(_ token: String, maxAge: Int) -> SetCookie {
        SetCookie(name: settings.accessCookieName, value: token, path: "/", maxAge: maxAge)
    }

    func refresh(_ token: String, maxAge: Int) -> SetCookie {
        SetCookie(name: settings.refreshCookieName, value: token, path: settings.basePath, maxAge: max(0, maxAge))
    }

    /// Adds both cookies to `response`.
    func set(on response: inout Response, access token: String, accessMaxAge: Int, refresh: String, refreshMaxAge: Int) {
        response.setCookie(access(token, maxAge: accessMaxAge))
        response.setCookie(self.refresh(refresh, maxAge: refreshMaxAge))
    }

    /// Adds `Max-Age=0` versions of both cookies to `response`.
    func clear(on response: inout Response) {
        response.setCookie(access("", maxAge: 0))
        response.setCookie(refresh("", maxAge: 0))
    }
}
