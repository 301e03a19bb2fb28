import Foundation
import Logging
import TokenGateAuth
import TokenGateHTTP

@testable import TokenGateAPI

/// `GET /verify` end to end through the route table (`APIResponder` + `VerifyEndpoint`, with its
/// verified-token cache): any `Authorization`, `Cookie` and `AUTH_REQUIRE_ROLES` give only 204,
/// 401 or 403 (nginx turns anything else into a 500); a 204 names a token the oracle accepts,
/// found where it must be (the `Authorization` header when there is one), whose roles satisfy
/// the policy, with printable `X-Auth-*` values; a refusal has the contract's JSON body and a
/// Bearer challenge; no answer sets a cookie.
///
/// Input: one flag byte, then NUL-separated `Authorization`, `Cookie` and roles values.
struct VerifyRequestFuzzTarget: FuzzTarget {
    static let name = "verify-request"
    private let responder: APIResponder

    init() {
        let logger = Logger(label: "tokengate.fuzz") { _ in SwiftLogNoOpLogHandler() }
        let tokens = TestOnlyKeys.makeAccessTokens(cacheCapacity: 64)
        TokenVerdict.requireAccepted(TestOnlyKeys.validToken, by: tokens)
        let endpoint = VerifyEndpoint(tokens: tokens, clock: FixedNow(), web: WebSettings(), logger: logger)
        responder = APIResponder(endpoints: [endpoint.endpoint], maxBodySize: 16_384, logger: logger)
    }

    func run(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let flags = input.byte()
        let parts = input.parts(separatedBy: 0).map { String(fuzzBytes: $0) }
        func part(_ index: Int) -> String { index < parts.count ? parts[index] : "" }
        var headers = Headers()
        if flags & 1 != 0 { headers.add("Authorization", part(0)) }
        if flags & 2 != 0 { headers.add("Authorization", part(0)) }
        if flags & 4 != 0 { headers.add("Cookie", part(1)) }
        var params: [String: String] = [:]
        if flags & 8 != 0 { params["AUTH_REQUIRE_ROLES"] = part(2) }
        let method: TokenGateHTTP.Method = flags & 16 != 0 ? .head : .get
        let request = Request(method: method, path: "/verify", headers: headers, params: params)
        let response = FuzzCheck.blocking { await responder.respond(to: request) }
        check(response, for: request, roles: params["AUTH_REQUIRE_ROLES"])
    }

    private func check(_ response: Response, for request: Request, roles: String?) {
        let status = response.status.code
        FuzzCheck.require([204, 401, 403].contains(status), "status \(status) from /verify")
        FuzzCheck.require(response.headers.all("Set-Cookie").isEmpty, "/verify set a cookie")
        for field in response.headers {
            FuzzCheck.require(
                FuzzCheck.isPrintableASCII(field.value), "header \(field.name): \(field.value.debugDescription)")
        }
        guard status == 204 else {
            if request.method == .head && response.body.isEmpty { return }
            let body = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            FuzzCheck.require(
                body?["error"] is String && body?["message"] is String, "refusal body is not the contract's")
            let challenge = response.headers.first("WWW-Authenticate") ?? ""
            FuzzCheck.require(challenge.hasPrefix("Bearer error=\""), "refusal without a Bearer challenge")
            return
        }
        let authorization = request.headers.all("Authorization")
        let source = authorization.isEmpty ? request.headers.all("Cookie").joined(separator: ";") : authorization[0]
        FuzzCheck.require(authorization.count <= 1, "204 with two Authorization fields")
        var why = ""
        let accepted = TokenOracle.candidates(in: source).compactMap { TokenOracle.accept($0, why: &why) }
        FuzzCheck.require(!accepted.isEmpty, "204 without an acceptable token in \(source.debugDescription)")
        let user = response.headers.first("X-Auth-User")
        FuzzCheck.require(accepted.contains { IdentityHeader.encode($0.sub) == user }, "X-Auth-User is not the token's")
        let policy = RolePolicy(param: roles)
        FuzzCheck.require(accepted.contains { policy.allows($0.roles) }, "204 for roles outside the policy")
    }
}

/// The clock of the token targets.
struct FixedNow: WallClock {
    var now: Date { TestOnlyKeys.now }
}
