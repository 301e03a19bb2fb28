public import Foundation

/// Where and how to reach PostgreSQL: parsed from `storage.url` (`postgres://user:pass@host:port/db`)
/// plus the TLS mode and pool size.
///
/// ```swift
/// let settings = try PostgresSettings(url: "postgres://tokengate@db.internal:5432/tokengate", tls: .require, poolSize: 8)
/// ```
public struct PostgresSettings: Sendable, Equatable {
    /// How the connection is protected.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP: only on loopback or a private network.
        case disable
        /// TLS when the server offers it, plain otherwise (libpq's default).
        case prefer
        /// TLS with the server certificate verified against the system trust store and the host name.
        case require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// Most connections this process opens.
    public var poolSize: Int
    /// How long a request waits for a connection (and a new connection for its handshake) before 503.
    public var connectTimeout: Duration

    /// Parses `url`; a password in `passwordOverride` (read from `storage.passwordFile`) wins over one in the URL.
    ///
    /// - Throws: `PostgresSettingsError` naming the problem.
    public init(
        url: String, tls: TLSMode, poolSize: Int, connectTimeout: Duration = .seconds(3),
        passwordOverride: String? = nil
    ) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme.lowercased())
        else {
            throw PostgresSettingsError("expected postgres://user[:password]@host[:port]/database")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresSettingsError("the URL names no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresSettingsError("the URL names no user")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresSettingsError("the URL names no database (…/database)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresSettingsError("the port must be 1–65535")
        }
        guard (1...1000).contains(poolSize) else {
            throw PostgresSettingsError("the pool size must be 1–1000")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = passwordOverride ?? components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
        self.poolSize = poolSize
        self.connectTimeout = connectTimeout
    }

    /// The URL with its password replaced by `<redacted>`, for logs and `config check`.
    public static func redacting(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "redacted"
        return components.string ?? "<redacted>"
    }
}

/// A problem with the PostgreSQL settings, reported under the `storage.url` key.
public struct PostgresSettingsError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
