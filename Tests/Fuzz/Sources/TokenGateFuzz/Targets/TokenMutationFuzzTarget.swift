import Crypto
import TokenGateAuth

/// Structured attacks on a valid token: headers and claims of any bytes signed with the
/// trusted key (claim and header checks), with an attacker's key under the trusted kid, HS256
/// keyed with the public key (algorithm confusion), unsigned, and byte edits of a valid
/// token. Every token `verify` accepts must satisfy `TokenOracle`.
struct TokenMutationFuzzTarget: FuzzTarget {
    static let name = "token-mutation"
    private let tokens = TestOnlyKeys.makeAccessTokens(cacheCapacity: 0)

    init() {
        TokenVerdict.requireAccepted(TestOnlyKeys.validToken, by: tokens)
    }

    func run(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let operation = input.byte() % 8
        let parts = input.parts(separatedBy: 0)
        let first = parts[0]
        let second = parts.count > 1 ? parts[1] : TestOnlyKeys.validPayload
        let token: String
        switch operation {
        case 0: token = TestOnlyKeys.sign(header: first, payload: TestOnlyKeys.validPayload, with: TestOnlyKeys.trusted)
        case 1: token = TestOnlyKeys.sign(header: TestOnlyKeys.validHeader, payload: first, with: TestOnlyKeys.trusted)
        case 2: token = TestOnlyKeys.sign(header: first, payload: second, with: TestOnlyKeys.trusted)
        case 3: token = TestOnlyKeys.sign(header: first, payload: second, with: TestOnlyKeys.attacker)
        case 4: token = Self.hs256(header: first, payload: second)
        case 5: token = Base64URL.encode(first) + "." + Base64URL.encode(second) + "." + Base64URL.encode(input.rest)
        case 6: token = Self.edit(TestOnlyKeys.validToken, with: input.rest)
        default: token = TestOnlyKeys.validToken + String(fuzzBytes: input.rest)
        }
        TokenVerdict.check(token, with: tokens)
    }

    /// HS256 keyed with the trusted public key, the classic confusion attack.
    private static func hs256(header: [UInt8], payload: [UInt8]) -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        let key = SymmetricKey(data: TestOnlyKeys.trusted.publicKey.rawRepresentation)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key)
        return input + "." + Base64URL.encode(Array(mac))
    }

    /// Overwrites bytes of `token`: pairs of (position, byte) from `edits`.
    private static func edit(_ token: String, with edits: [UInt8]) -> String {
        var bytes = Array(token.utf8)
        var index = 0
        while index + 1 < edits.count {
            bytes[Int(edits[index]) * bytes.count / 256] = edits[index + 1]
            index += 2
        }
        return String(fuzzBytes: bytes)
    }
}
