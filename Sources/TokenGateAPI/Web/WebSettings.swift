/// The HTTP-facing settings the endpoints share.
public struct WebSettings: Sendable {
    /// The path nginx mounts tokengate under (`/auth`): the refresh cookie's path.
    public var basePath: String
    public var accessCookieName: String
    public var refreshCookieName: String
    /// Origins allowed to POST; empty means the request's own origin only.
    public var allowedOrigins: [String]
    /// Peers whose `X-Forwarded-For` is believed.
    public var trustedProxies: [String]
    /// Where failed form logins and navigation refreshes go.
    public var loginPage: String

    public init(
        basePath: String = "/auth", accessCookieName: String = "__Host-access",
        refreshCookieName: String = "__Secure-refresh", allowedOrigins: [String] = [], trustedProxies: [String] = [],
        loginPage: String = "/"
    ) {
        self.basePath = basePath
        self.accessCookieName = accessCookieName
        self.refreshCookieName = refreshCookieName
        self.allowedOrigins = allowedOrigins
        self.trustedProxies = trustedProxies
        self.loginPage = loginPage
    }
}
