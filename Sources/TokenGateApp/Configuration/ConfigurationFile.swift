/// Reads the configuration file: one `key = value` per line, `#` comments, blank lines ignored.
///
/// ```
/// # /etc/tokengate/tokengate.conf
/// fastcgi.listen = unix:/run/tokengate/tokengate.sock
/// tokens.accessTTL = 15m
/// ```
public enum ConfigurationFile {
    /// Parses file contents into a key → value dictionary.
    /// - Throws: `ConfigurationError` naming the line that is not `key = value`.
    public static func parse(_ text: String, source: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError(key: "\(source):\(index + 1)", problem: "expected `key = value`")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            guard !key.isEmpty else {
                throw ConfigurationError(key: "\(source):\(index + 1)", problem: "missing key before `=`")
            }
            values[key] = value
        }
        return values
    }
}

/// A configuration problem, naming the key (or file and line) and what is wrong with it.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let key: String
    public let problem: String

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "configuration error: \(key): \(problem)" }
}

import Foundation
