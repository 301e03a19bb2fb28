import TokenGateHTTP

@testable import TokenGateAPI

/// Identity header encoding (`IdentityHeader`, `/verify`'s `X-Auth-*` values) and the role
/// policy param: an encoded claim is printable ASCII (no CR, LF or NUL can split a header),
/// decodes back to the claim exactly, and a role list allows only roles it names.
struct IdentityHeaderFuzzTarget: FuzzTarget {
    static let name = "identity"

    func run(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let cut = Int(input.byte())
        let text = String(fuzzBytes: input.rest)
        let encoded = IdentityHeader.encode(text)
        FuzzCheck.require(FuzzCheck.isPrintableASCII(encoded), "header value \(encoded.debugDescription)")
        FuzzCheck.require(FormURLEncoding.percentDecode(encoded) == text, "encoding does not round-trip")
        // The policy param and the roles claim both come from outside (nginx config, token).
        let utf8 = Array(text.utf8)
        let split = utf8.isEmpty ? 0 : cut % (utf8.count + 1)
        let policy = RolePolicy(param: String(fuzzBytes: utf8[..<split]))
        let roles = String(fuzzBytes: utf8[split...]).split(separator: ",").map(String.init)
        if policy.allows(roles) {
            FuzzCheck.require(
                policy.anyOf.isEmpty || roles.contains(where: policy.anyOf.contains), "a role outside the policy passed"
            )
        }
        FuzzCheck.require(policy.anyOf.allSatisfy { !$0.isEmpty && !$0.contains(" ") }, "empty or spaced role")
    }
}
