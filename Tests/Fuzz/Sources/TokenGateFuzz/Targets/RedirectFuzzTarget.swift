import TokenGateHTTP

@testable import TokenGateAPI

/// The `rd` redirect target (`RedirectTarget`), from a query string or a form field: the
/// result is `/`, a path starting with exactly one `/` (no `//`, `/\`, backslash or control
/// character, raw or percent-decoded), or a URL on the allowed origin — never anything else,
/// and always printable ASCII, since it becomes a `Location` header.
struct RedirectFuzzTarget: FuzzTarget {
    static let name = "redirect"
    static let origin = "https://app.example.com"
    private let target = TokenGateAPI.RedirectTarget(allowedOrigins: [Self.origin])

    func run(_ data: [UInt8]) {
        let text = String(fuzzBytes: data)
        check(target.sanitize(target.fromQuery(text)), from: text)
        check(target.sanitize(text), from: text)
        if let decoded = FormURLEncoding.percentDecode(text, plusAsSpace: true) {
            check(target.sanitize(decoded), from: text)
        }
    }

    private func check(_ result: String, from input: String) {
        let context = "input \(input.debugDescription) gave \(result.debugDescription)"
        FuzzCheck.require(FuzzCheck.isPrintableASCII(result), "not printable ASCII: \(context)")
        FuzzCheck.require(!result.contains(" "), "space in Location: \(context)")
        if result.hasPrefix("/") {
            FuzzCheck.require(Self.isSinglySlashed(result), "unsafe relative target: \(context)")
            if let decoded = FormURLEncoding.percentDecode(result) {
                FuzzCheck.require(Self.isSinglySlashed(decoded), "unsafe once decoded: \(context)")
                FuzzCheck.require(!decoded.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "control char: \(context)")
            } else {
                FuzzCheck.require(!result.contains("%"), "undecodable escape accepted: \(context)")
            }
        } else {
            let rest = result.dropFirst(Self.origin.count)
            FuzzCheck.require(result.hasPrefix(Self.origin), "foreign origin: \(context)")
            FuzzCheck.require(
                rest.isEmpty || rest.hasPrefix("?") || (rest.hasPrefix("/") && Self.isSinglySlashed(String(rest))),
                "origin followed by \(rest.debugDescription): \(context)")
        }
    }

    /// Starts with one `/` (not `//` or `/\`) and has no backslash.
    private static func isSinglySlashed(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return false }
        if bytes.count > 1, bytes[1] == UInt8(ascii: "/") { return false }
        return !bytes.contains(UInt8(ascii: "\\"))
    }
}
