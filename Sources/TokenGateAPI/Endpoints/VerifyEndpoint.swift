public import Logging
public import TokenGateAuth
import TokenGateHTTP

/// `GET /verify` for nginx `auth_request`: 204 with identity headers, 401 or 403 — never
/// anything else, since nginx turns any other status of an auth subrequest into a 500.
/// Touches no database: signature, claims and the in-memory revocation list only.
public struct VerifyEndpoint: Sendable {
    let tokens: AccessTokens
    let clock: any WallClock
    let web: WebSettings
    let logger: Logger

    public init(tokens: AccessTokens, clock: any WallClock, web: WebSettings, logger: Logger) {
        self.tokens = tokens
        self.clock = clock
        self.web = web
        self.logger = logger
    }

    public var endpoint: Endpoint {
        Endpoint(.get, "/verify") { request, context in
            do {
                return try await verify(request, context)
            } catch let error as TokenGateError where error.code.httpStatus == 401 || error.code.httpStatus == 403 {
                throw error
            } catch {
                // Fail closed with a status nginx understands.
                logger.error("verification failed unexpectedly", metadata: ["error": "\(String(reflecting: error))"])
                throw TokenGateError.invalidToken()
            }
        }
    }

    private func verify(_ request: Request, _ context: RequestContext) async throws -> Response {
        let token = try BearerToken(cookieName: web.accessCookieName).extract(from: request)
        let claims = try await tokens.verify(token, at: clock.now)
        context.identify(userID: claims.sub, sessionID: claims.sid)
        let policy = RolePolicy(param: request.params["AUTH_REQUIRE_ROLES"])
        guard policy.allows(claims.roles) else { throw TokenGateError.insufficientScope() }
        // A fresh header list: append, no lookups.
        let headers = Headers([
            ("Cache-Control", "no-store"),
            ("X-Auth-User", IdentityHeader.encode(claims.sub)),
            ("X-Auth-Username", IdentityHeader.encode(claims.preferredUsername)),
            ("X-Auth-Roles", IdentityHeader.encode(claims.roles.joined(separator: ","))),
            ("X-Auth-Session", IdentityHeader.encode(claims.sid)),
            ("X-Auth-Expires", String(Int(claims.exp))),
        ])
        let response = Response(status: .noContent, headers: headers)
        return response
    }
}

/// A location's role requirement: `AUTH_REQUIRE_ROLES "admin ops"` means any one of them.
struct RolePolicy {
    let anyOf: [String]

    init(param: String?) {
        anyOf = (param ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }

    func allows(_ roles: [String]) -> Bool {
        anyOf.isEmpty || roles.contains(where: anyOf.contains)
    }
}

/// Header values outside printable ASCII (and `%` itself) are percent-encoded as UTF-8, so
/// no claim can inject a header or a line break.
enum IdentityHeader {
    static func encode(_ value: String) -> String {
        // Nearly every value is plain ASCII already: return it as it is, without a copy.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) { return value }
        var result = ""
        for byte in value.utf8 {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                result += "%" + FormURLEncoding.hexDigits(byte)
            }
        }
        return result
    }
}
