import Foundation
public import TokenGateAuth
import TokenGateHTTP

/// `POST /login`: JSON (200 with tokens) or an HTML form (303 to `rd`, or back to the login page).
public struct LoginEndpoint: Sendable {
    let login: LoginService
    let clock: any WallClock
    let web: WebSettings
    let metrics: APIMetrics?

    public init(login: LoginService, clock: any WallClock, web: WebSettings, metrics: APIMetrics? = nil) {
        self.login = login
        self.clock = clock
        self.web = web
        self.metrics = metrics
    }

    public var endpoint: Endpoint {
        Endpoint(.post, "/login") { request, context in
            do {
                let response = try await handle(request, context)
                metrics?.recordLogin(outcome: context.outcome ?? "success")
                return response
            } catch {
                metrics?.recordLogin(outcome: (error as? TokenGateError)?.code.rawValue ?? "internal_error")
                throw error
            }
        }
    }

    private func handle(_ request: Request, _ context: RequestContext) async throws -> Response {
        try OriginPolicy(allowedOrigins: web.allowedOrigins).check(request)
        let isFormPost = request.mediaType == "application/x-www-form-urlencoded"
        let redirects = RedirectTarget(allowedOrigins: web.allowedOrigins)
        do {
            let credentials = try Credentials(request: request)
            let now = clock.now
            let success = try await login.login(
                username: credentials.username, password: credentials.password,
                clientAddress: ClientAddress(trustedProxies: web.trustedProxies).of(request),
                userAgent: request.headers.first("User-Agent") ?? "", at: now)
            context.identify(userID: success.user.id, sessionID: success.session.id)
            var response: Response
            if credentials.isFormPost {
                response = .redirect(to: redirects.sanitize(credentials.redirect))
                response.headers["Cache-Control"] = "no-store"
            } else {
                response = try JSONBody.noStore(
                    TokenResponseDTO(
                        accessToken: success.access.token, expiresIn: success.access.expiresIn,
                        user: UserDTO(success.user)))
            }
            SessionCookies(settings: web).set(
                on: &response, access: success.access, refresh: success.refreshToken, session: success.session, now: now)
            return response
        } catch let error as TokenGateError where isFormPost {
            context.outcome = error.code.rawValue
            let fields = FormURLEncoding.decode(body: request.body) ?? []
            let redirect = fields.first { $0.name == "rd" }?.value
            var response = Response.redirect(
                to: LoginPage(web: web).url(error: error.code.rawValue, redirect: redirect.map(redirects.sanitize)))
            response.headers["Cache-Control"] = "no-store"
            return response
        }
    }
}

/// Builds URLs of the configured login page.
struct LoginPage {
    let web: WebSettings

    /// The login page with `error` and `rd` query parameters.
    func url(error: String?, redirect: String?) -> String {
        var items: [(String, String)] = []
        if let error { items.append(("error", error)) }
        if let redirect, redirect != "/" { items.append(("rd", redirect)) }
        guard !items.isEmpty else { return web.loginPage }
        let separator = web.loginPage.contains("?") ? "&" : "?"
        return web.loginPage + separator + FormURLEncoding.encode(items)
    }
}
