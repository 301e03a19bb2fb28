import TokenGateAuth

/// The token path on arbitrary bytes (`AccessTokens.verify`: size cap, header pre-checks,
/// jwt-kit parsing and signature, claim checks, revocation): it throws only `invalid_token` or
/// `token_expired`, and whatever it accepts the independent `TokenOracle` accepts too.
struct TokenFuzzTarget: FuzzTarget {
    static let name = "token"
    private let tokens = TestOnlyKeys.makeAccessTokens(cacheCapacity: 0)

    init() {
        TokenVerdict.requireAccepted(TestOnlyKeys.validToken, by: tokens)
    }

    func run(_ data: [UInt8]) {
        TokenVerdict.check(String(fuzzBytes: data), with: tokens)
    }
}

/// The shared verdict check of the token targets.
enum TokenVerdict {
    /// Checks one token: `verify`'s verdict against the oracle's.
    static func check(_ token: String, with tokens: AccessTokens) {
        switch verify(token, with: tokens) {
        case .success(let claims):
            var why = ""
            let accepted = TokenOracle.accept(token, why: &why)
            FuzzCheck.require(accepted != nil, "verify accepted a token the oracle refuses (\(why)): \(token)")
            FuzzCheck.require(accepted?.sub == claims.sub, "claims differ from the oracle's: \(token)")
        case .failure(let error):
            let code = (error as? TokenGateError)?.code
            FuzzCheck.require(code == .invalidToken || code == .tokenExpired, "verify threw \(error)")
        }
    }

    /// Traps unless `verify` and the oracle both accept `token`: a target whose valid seed is
    /// refused would check nothing.
    static func requireAccepted(_ token: String, by tokens: AccessTokens) {
        var why = ""
        FuzzCheck.require(TokenOracle.accept(token, why: &why) != nil, "the oracle refuses the valid token: \(why)")
        if case .failure(let error) = verify(token, with: tokens) {
            FuzzCheck.require(false, "verify refuses the valid token: \(error)")
        }
    }

    private static func verify(_ token: String, with tokens: AccessTokens) -> Result<AccessTokenClaims, any Error> {
        FuzzCheck.blocking {
            do { return .success(try await tokens.verify(token, at: TestOnlyKeys.now)) } catch {
                return .failure(error)
            }
        }
    }
}
