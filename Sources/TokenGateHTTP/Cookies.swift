/// Parses `Cookie` request headers (RFC 6265 §5.4 syntax, leniently).
public enum CookieParser {
    /// Splits one `Cookie` header value into name/value pairs. Pairs without `=` and empty
    /// names are skipped; values lose one pair of surrounding double quotes.
    public static func parse(_ header: String) -> [(name: String, value: String)] {
        header.split(separator: ";", omittingEmptySubsequences: true).compactMap { pair in
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            let name = pair[..<equals].trimmingASCIIWhitespace()
            var value = pair[pair.index(after: equals)...].trimmingASCIIWhitespace()
            guard !name.isEmpty else { return nil }
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            return (name: name, value: value)
        }
    }
}

/// A `Set-Cookie` response header.
public struct SetCookie: Sendable, Equatable {
    /// The `SameSite` attribute.
    public enum SameSite: String, Sendable {
        case strict = "Strict"
        case lax = "Lax"
        case none = "None"
    }

    public var name: String
    public var value: String
    public var path: String
    public var maxAge: Int
    public var isSecure: Bool
    public var isHTTPOnly: Bool
    public var sameSite: SameSite?

    /// Creates a cookie; `maxAge` 0 clears it.
    public init(
        name: String,
        value: String,
        path: String = "/",
        maxAge: Int,
        isSecure: Bool = true,
        isHTTPOnly: Bool = true,
        sameSite: SameSite? = .lax
    ) {
        self.name = name
        self.value = value
        self.path = path
        self.maxAge = maxAge
        self.isSecure = isSecure
        self.isHTTPOnly = isHTTPOnly
        self.sameSite = sameSite
    }

    /// The header value, e.g. `__Host-access=…; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Lax`.
    public var headerValue: String {
        var parts = ["\(name)=\(value)", "Path=\(path)", "Max-Age=\(maxAge)"]
        if isSecure { parts.append("Secure") }
        if isHTTPOnly { parts.append("HttpOnly") }
        if let sameSite { parts.append("SameSite=\(sameSite.rawValue)") }
        return parts.joined(separator: "; ")
    }

    /// The same cookie, cleared: same name, path and attributes with an empty value and `Max-Age=0`.
    public var cleared: SetCookie {
        var copy = self
        copy.value = ""
        copy.maxAge = 0
        return copy
    }
}
