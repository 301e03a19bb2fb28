import Foundation
import TokenGateAuth
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

    /// Adds both cookies to `response`; the refresh cookie lives as long as `session` may still
    /// be refreshed (its idle expiry, which never passes the absolute one).
    func set(on response: inout Response, access: AccessTokens.Issued, refresh: String, session: Session, now: Date) {
        response.setCookie(self.access(access.token, maxAge: access.expiresIn))
        let remaining = Int(session.idleExpiresAt.timeIntervalSince(now).rounded(.down))
        response.setCookie(self.refresh(refresh, maxAge: remaining))
    }

    /// Adds `Max-Age=0` versions of both cookies to `response`.
    func clear(on response: inout Response) {
        response.setCookie(access("", maxAge: 0))
        response.setCookie(refresh("", maxAge: 0))
    }
}
