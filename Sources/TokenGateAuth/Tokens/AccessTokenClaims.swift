import JWTKit

/// The claims of a tokengate access token (DESIGN §3). NumericDates are decoded as JSON
/// numbers only: a string `exp` fails decoding and so fails verification.
public struct AccessTokenClaims: Codable, Sendable, Equatable {
    public var iss: String
    public var aud: Audience
    public var sub: String
    public var iat: Double
    public var exp: Double
    public var nbf: Double?
    public var jti: String
    public var sid: String
    public var roles: [String]
    public var preferredUsername: String

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, iat, exp, nbf, jti, sid, roles
        case preferredUsername = "preferred_username"
    }

    public init(
        iss: String, aud: String, sub: String, iat: Double, exp: Double, nbf: Double? = nil, jti: String, sid: String,
        roles: [String], preferredUsername: String
    ) {
        self.iss = iss
        self.aud = Audience(values: [aud])
        self.sub = sub
        self.iat = iat
        self.exp = exp
        self.nbf = nbf
        self.jti = jti
        self.sid = sid
        self.roles = roles
        self.preferredUsername = preferredUsername
    }

    /// `aud` may be one string or an array of strings (RFC 7519 §4.1.3).
    public struct Audience: Codable, Sendable, Equatable {
        public var values: [String]

        public init(values: [String]) {
            self.values = values
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let single = try? container.decode(String.self) {
                values = [single]
            } else {
                values = try container.decode([String].self)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
        }
    }
}

/// The claims as jwt-kit sees them; keeps jwt-kit out of this module's public interface.
struct AccessTokenPayload: JWTPayload {
    let claims: AccessTokenClaims

    init(_ claims: AccessTokenClaims) {
        self.claims = claims
    }

    init(from decoder: any Decoder) throws {
        claims = try AccessTokenClaims(from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    /// Claim checks need the injected clock and leeway, so they run in `AccessTokens.verify`.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
