import Foundation
import TokenGateHTTP

/// Where a redirect may send the browser (DESIGN §2, open-redirect rules): a relative path
/// starting with a single `/`, or an absolute URL on an allowed origin. Anything else is `/`.
public struct RedirectTarget: Sendable {
    let allowedOrigins: [String]

    public init(allowedOrigins: [String]) {
        self.allowedOrigins = allowedOrigins
    }

    /// The `rd` of a query string. A query that starts with `rd=/` is taken verbatim to its end
    /// (nginx cannot encode `$request_uri`); any other `rd` is percent-decoded once.
    public func fromQuery(_ query: String) -> String? {
        if query.hasPrefix("rd=/") { return String(query.dropFirst(3)) }
        return FormURLEncoding.decode(query).first { $0.name == "rd" }?.value
    }

    /// `candidate` if it is a safe target, else `/`.
    public func sanitize(_ candidate: String?) -> String {
        guard let candidate, !candidate.isEmpty, candidate.utf8.count <= 4096 else { return "/" }
        if isSafeRelative(candidate) { return candidate }
        if isAllowedAbsolute(candidate) { return candidate }
        return "/"
    }

    private func isSafeRelative(_ value: String) -> Bool {
        // The raw form goes into the Location header: printable ASCII only.
        guard Self.hasSafeShape(value), !value.utf8.contains(where: { $0 < 0x21 || $0 >= 0x7F }) else { return false }
        // The same shape on the decoded form: `/%2F%2Fevil.example` or `/%5Cevil` are refused too.
        // Decoded spaces and non-ASCII letters are fine (`/search?q=a%20b`, `/caf%C3%A9`).
        if value.contains("%") {
            guard let decoded = FormURLEncoding.percentDecode(value), Self.hasSafeShape(decoded) else { return false }
        }
        return true
    }

    /// Starts with a single `/`, and has no backslash or control character anywhere.
    private static func hasSafeShape(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return false }
        if bytes.count > 1, bytes[1] == UInt8(ascii: "/") || bytes[1] == UInt8(ascii: "\\") { return false }
        return !bytes.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") }
    }

    private func isAllowedAbsolute(_ value: String) -> Bool {
        guard !value.utf8.contains(where: { $0 < 0x21 || $0 >= 0x7F }) else { return false }
        guard let schemeEnd = value.range(of: "://") else { return false }
        let afterScheme = value[schemeEnd.upperBound...]
        let pathStart = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        let origin = String(value[..<pathStart])
        let rest = String(value[pathStart...])
        guard allowedOrigins.contains(origin) else { return false }
        return rest.isEmpty || (rest.hasPrefix("/") && Self.hasSafeShape(rest)) || rest.hasPrefix("?")
    }
}
