import Foundation
public import TokenGateAuth
import TokenGateHTTP

/// `POST /logout` (this session) and `POST /logout?scope=all` (every session of the user).
/// Idempotent: a missing or invalid session still answers 204 and clears the cookies.
public struct LogoutEndpoint: Sendable {
    let sessions: SessionService
    let tokens: AccessTokens
    let clock: any WallClock
    let web: WebSettings

    public init(sessions: SessionService, tokens: AccessTokens, clock: any WallClock, web: WebSettings) {
        self.sessions = sessions
        self.tokens = tokens
        self.clock = clock
        self.web = web
    }

    public var endpoint: Endpoint {
        Endpoint(.post, "/logout") { request, context in try await handle(request, context) }
    }

    private func handle(_ request: Request, _ context: RequestContext) async throws -> Response {
        try OriginPolicy(allowedOrigins: web.allowedOrigins).check(request)
        let now = clock.now
        let address = ClientAddress(trustedProxies: web.trustedProxies).of(request)
        let identity = try await identify(request, at: now)
        context.identify(userID: identity?.userID, sessionID: identity?.sessionID)
        if request.queryValue("scope") == "all" {
            guard let identity else { throw TokenGateError.invalidToken("Log in again to end every session.") }
            try await sessions.revokeAll(
                userID: identity.userID, reason: "logout_all",
                event: AuditEvent(kind: "logout.all", at: now, userID: identity.userID, sessionID: identity.sessionID, clientAddress: address))
        } else if let identity {
            try await sessions.revoke(
                sessionID: identity.sessionID, reason: "logout",
                event: AuditEvent(kind: "logout", at: now, userID: identity.userID, sessionID: identity.sessionID, clientAddress: address))
        }
        var response: Response
        if request.mediaType == "application/x-www-form-urlencoded" {
            let redirect = FormURLEncoding.decode(body: request.body)?.first { $0.name == "rd" }?.value
            response = .redirect(to: redirect.map(RedirectTarget(allowedOrigins: web.allowedOrigins).sanitize) ?? web.loginPage)
        } else {
            response = Response(status: .noContent)
        }
        response.headers["Cache-Control"] = "no-store"
        SessionCookies(settings: web).clear(on: &response)
        return response
    }

    /// The session to end: from a refresh cookie whose session is active, else from a valid access token.
    private func identify(_ request: Request, at now: Date) async throws -> (userID: String, sessionID: String)? {
        if let token = request.cookie(web.refreshCookieName), !token.isEmpty,
            let session = try await sessions.session(forRefreshToken: token), session.isActive(at: now)
        {
            return (session.userID, session.id)
        }
        guard let token = try? BearerToken(cookieName: web.accessCookieName).extract(from: request),
            let claims = try? await tokens.verify(token, at: now)
        else { return nil }
        return (claims.sub, claims.sid)
    }
}
