public import TokenGateAuth
import TokenGateHTTP

/// `GET /me`: the user behind the access token (the tutorial's `/profile`).
public struct MeEndpoint: Sendable {
    let tokens: AccessTokens
    let users: any UserStore
    let clock: any WallClock
    let web: WebSettings

    public init(tokens: AccessTokens, users: any UserStore, clock: any WallClock, web: WebSettings) {
        self.tokens = tokens
        self.users = users
        self.clock = clock
        self.web = web
    }

    public var endpoint: Endpoint {
        Endpoint(.get, "/me") { request, context in
            let token = try BearerToken(cookieName: web.accessCookieName).extract(from: request)
            let claims = try await tokens.verify(token, at: clock.now)
            context.identify(userID: claims.sub, sessionID: claims.sid)
            guard let user = try await users.user(id: claims.sub), !user.isDisabled else {
                throw TokenGateError.invalidToken("The token's user no longer exists or is disabled.")
            }
            return try JSONBody.noStore(UserDTO(user))
        }
    }
}
