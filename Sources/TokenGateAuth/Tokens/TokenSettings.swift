/// What access tokens say and how strictly they are checked.
public struct TokenSettings: Sendable, Equatable {
    public var issuer: String
    public var audience: String
    /// Lifetime of an access token, in seconds.
    public var accessTTL: Int
    /// Clock skew tolerated on exp and nbf, in seconds.
    public var leeway: Int
    /// Tokens longer than this many bytes are rejected before parsing.
    public var maxSize: Int

    public init(issuer: String = "tokengate", audience: String = "tokengate", accessTTL: Int = 900, leeway: Int = 30, maxSize: Int = 8192) {
        self.issuer = issuer
        self.audience = audience
        self.accessTTL = accessTTL
        self.leeway = leeway
        self.maxSize = maxSize
    }
}
