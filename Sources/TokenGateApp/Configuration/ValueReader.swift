/// Typed reads of configuration values that name the key in every error.
struct ValueReader {
    let values: [String: String]

    func string(_ key: String) throws -> String {
        guard let value = values[key], !value.isEmpty else {
            throw ConfigurationError(key: key, problem: "must not be empty")
        }
        return value
    }

    /// The value, or `nil` when it is empty (an optional setting left unset).
    func optionalString(_ key: String) -> String? {
        guard let value = values[key], !value.isEmpty else { return nil }
        return value
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(try string(key)) else {
            throw ConfigurationError(key: key, problem: "expected a whole number, got `\(values[key] ?? "")`")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: key, problem: "must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    func octal(_ key: String) throws -> UInt32 {
        guard let value = UInt32(try string(key), radix: 8), value <= 0o777 else {
            throw ConfigurationError(key: key, problem: "expected an octal file mode such as 0660")
        }
        return value
    }

    /// Whole seconds from a duration like `15m`.
    func seconds(_ key: String, minimum: Int = 0) throws -> Int {
        guard let seconds = DurationParser.seconds(try string(key)) else {
            throw ConfigurationError(key: key, problem: "expected a duration such as 30s, 15m, 7d")
        }
        let whole = Int(seconds.rounded(.up))
        guard whole >= minimum else {
            throw ConfigurationError(key: key, problem: "must be at least \(minimum) seconds")
        }
        return whole
    }

    func path(_ key: String) throws -> String {
        let value = try string(key)
        guard value.hasPrefix("/"), value == "/" || !value.hasSuffix("/") else {
            throw ConfigurationError(key: key, problem: "expected a path like /auth (leading slash, no trailing slash)")
        }
        return value
    }

    func cookieName(_ key: String) throws -> String {
        let value = try string(key)
        let allowed = value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value < 0x7F && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains(scalar)
        }
        guard allowed else { throw ConfigurationError(key: key, problem: "not a valid cookie name") }
        return value
    }

    func list(_ key: String) throws -> [String] {
        (values[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }
}
