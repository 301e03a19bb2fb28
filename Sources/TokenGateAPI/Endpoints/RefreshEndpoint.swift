import Foundation
public import TokenGateAuth
import TokenGateHTTP

/// `POST /refresh` (browser JS: JSON) and `GET /refresh?rd=` (page navigation: always 303).
public struct RefreshEndpoint: Sendable {
    let sessions: SessionService
    let users: any UserStore
    let tokens: AccessTokens
    let clock: any WallClock
    let web: WebSettings
    let metrics: APIMetrics?

    public init(
        sessions: SessionService, users: any UserStore, tokens: AccessTokens, clock: any WallClock, web: WebSettings,
        metrics: APIMetrics? = nil
    ) {
        self.sessions = sessions
        self.users = users
        self.tokens = tokens
        self.clock = clock
        self.web = web
        self.metrics = metrics
    }

    public var endpoints: [Endpoint] {
        [
            Endpoint(.post, "/refresh") { request, context in try await post(request, context) },
            // A HEAD probe (link checkers, prefetchers) must not rotate anyone's refresh token.
            Endpoint(.get, "/refresh", answersHead: false) { request, context in await navigate(request, context) },
        ]
    }

    /// The result of a rotation, ready for cookies.
    private struct Refreshed {
        let user: User
        let access: AccessTokens.Issued
        let refreshToken: String
        let session: Session
        let now: Date
    }

    private func post(_ request: Request, _ context: RequestContext) async throws -> Response {
        let cookies = SessionCookies(settings: web)
        do {
            try OriginPolicy(allowedOrigins: web.allowedOrigins).check(request)
            let refreshed = try await refresh(request, context)
            var response = try JSONBody.noStore(
                TokenResponseDTO(
                    accessToken: refreshed.access.token, expiresIn: refreshed.access.expiresIn,
                    user: UserDTO(refreshed.user)))
            cookies.set(
                on: &response, access: refreshed.access, refresh: refreshed.refreshToken, session: refreshed.session,
                now: refreshed.now)
            return response
        } catch let error as TokenGateError where error.code.httpStatus == 401 {
            var response = ErrorRenderer.response(for: error)
            cookies.clear(on: &response)
            return response
        }
    }

    private func navigate(_ request: Request, _ context: RequestContext) async -> Response {
        let redirects = RedirectTarget(allowedOrigins: web.allowedOrigins)
        let target = redirects.sanitize(redirects.fromQuery(request.query))
        let cookies = SessionCookies(settings: web)
        do {
            let refreshed = try await refresh(request, context)
            var response = Response.redirect(to: target)
            response.headers["Cache-Control"] = "no-store"
            cookies.set(
                on: &response, access: refreshed.access, refresh: refreshed.refreshToken, session: refreshed.session,
                now: refreshed.now)
            return response
        } catch {
            let code = (error as? TokenGateError)?.code.rawValue ?? TokenGateError.Code.internalError.rawValue
            var response = Response.redirect(to: LoginPage(web: web).url(error: code, redirect: target))
            response.headers["Cache-Control"] = "no-store"
            if (error as? TokenGateError)?.code.httpStatus == 401 { cookies.clear(on: &response) }
            return response
        }
    }

    private func refresh(_ request: Request, _ context: RequestContext) async throws -> Refreshed {
        do {
            let refreshed = try await rotate(request, context)
            metrics?.recordRefresh(outcome: "rotated")
            return refreshed
        } catch {
            metrics?.recordRefresh(outcome: (error as? TokenGateError)?.code.rawValue ?? "internal_error")
            throw error
        }
    }

    private func rotate(_ request: Request, _ context: RequestContext) async throws -> Refreshed {
        guard let presented = request.cookie(web.refreshCookieName), !presented.isEmpty else {
            throw TokenGateError.refreshMissing()
        }
        let now = clock.now
        let rotation = try await sessions.rotate(
            presented, clientAddress: ClientAddress(trustedProxies: web.trustedProxies).of(request), at: now)
        context.identify(userID: rotation.session.userID, sessionID: rotation.session.id)
        guard let user = try await users.user(id: rotation.session.userID), !user.isDisabled else {
            throw TokenGateError.refreshInvalid()
        }
        let access = try await tokens.issue(for: user, sessionID: rotation.session.id, at: now)
        return Refreshed(
            user: user, access: access, refreshToken: rotation.refreshToken, session: rotation.session, now: now)
    }
}
