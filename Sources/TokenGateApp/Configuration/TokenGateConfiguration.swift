public import FastCGI
import Foundation
public import Logging
public import TokenGatePostgres

/// The effective configuration: defaults < file < environment < command-line flags.
///
/// ```swift
/// let configuration = try TokenGateConfiguration(
///     environment: ProcessInfo.processInfo.environment, file: "/etc/tokengate/tokengate.conf")
/// ```
public struct TokenGateConfiguration: Sendable {
    /// Every key's effective value, as text.
    public private(set) var values: [String: String]
    /// Where each value came from: `default`, the file path, the environment variable, or `flag`.
    public private(set) var sources: [String: String]

    public var fastCGI: FastCGIServer.Configuration
    public var socketMode: UInt32
    public var dataDirectory: String
    /// PostgreSQL when `storage.url` is set; `nil` means the SQLite file in the data directory.
    public var postgres: PostgresSettings?
    /// How often revocations made elsewhere are loaded into this node's revocation list.
    public var revocationInterval: Int
    public var issuer: String
    public var audience: String
    public var accessTTL: Int
    public var leeway: Int
    public var maxTokenSize: Int
    public var refreshIdleTTL: Int
    public var refreshAbsoluteTTL: Int
    public var reuseGrace: Int
    public var accessCookieName: String
    public var refreshCookieName: String
    public var allowedOrigins: [String]
    public var trustedProxies: [String]
    public var loginPage: String
    public var argon2MemoryKiB: Int
    public var argon2Iterations: Int
    public var argon2Parallelism: Int
    public var hashingThreads: Int
    public var hashingMaxQueued: Int
    public var throttleUserLimit: Int
    public var throttleAddressLimit: Int
    public var throttleBaseLockout: Int
    public var throttleMaxLockout: Int
    public var throttleForgetAfter: Int
    public var logLevel: Logger.Level
    public var logFormat: String

    /// The SQLite database inside the data directory.
    public var databasePath: String { dataDirectory + "/tokengate.sqlite" }
    /// The signing-key directory inside the data directory.
    public var keyDirectory: String { dataDirectory + "/keys" }

    /// Builds the configuration from the environment, an optional file and flag overrides.
    /// - Parameters:
    ///   - environment: usually `ProcessInfo.processInfo.environment`; `TOKENGATE_CONFIG` names the file when `file` is nil.
    ///   - file: the configuration file; a missing file is an error only when named explicitly.
    ///   - overrides: values from command-line flags, by key.
    /// - Throws: `ConfigurationError` naming the key and the problem.
    public init(environment: [String: String], file: String? = nil, overrides: [String: String] = [:]) throws {
        var values: [String: String] = [:]
        var sources: [String: String] = [:]
        for key in ConfigurationKey.all {
            values[key.name] = key.defaultValue
            sources[key.name] = "default"
        }
        let explicitFile = file ?? environment["TOKENGATE_CONFIG"]
        let path = explicitFile ?? "/etc/tokengate/tokengate.conf"
        if FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(key: path, problem: "cannot be read")
            }
            for (key, value) in try ConfigurationFile.parse(text, source: path) {
                guard ConfigurationKey.named(key) != nil else {
                    throw ConfigurationError(key: key, problem: "unknown key (in \(path))")
                }
                values[key] = value
                sources[key] = path
            }
        } else if explicitFile != nil {
            throw ConfigurationError(key: path, problem: "configuration file not found")
        }
        for key in ConfigurationKey.all {
            if let value = environment[key.environmentName] {
                values[key.name] = value
                sources[key.name] = key.environmentName
            }
        }
        for (key, value) in overrides {
            guard ConfigurationKey.named(key) != nil else {
                throw ConfigurationError(key: key, problem: "unknown key")
            }
            values[key] = value
            sources[key] = "flag"
        }
        try self.init(values: values, sources: sources)
    }

    private init(values: [String: String], sources: [String: String]) throws {
        self.values = values
        self.sources = sources
        let read = ValueReader(values: values)
        socketMode = try read.octal("fastcgi.socketMode")
        guard let address = ListenAddress.parse(try read.string("fastcgi.listen"), mode: socketMode) else {
            throw ConfigurationError(key: "fastcgi.listen", problem: "expected unix:/path, /path, host:port or fd:0")
        }
        fastCGI = FastCGIServer.Configuration(
            address: address,
            workers: try read.int("fastcgi.workers", in: 1...1024),
            maxBodySize: try read.int("fastcgi.maxBodySize", in: 256...(16 << 20)),
            basePath: try read.path("fastcgi.basePath"),
            drainTimeout: .seconds(try read.seconds("fastcgi.drainTimeout")),
            idleTimeout: .seconds(try read.seconds("fastcgi.idleTimeout", minimum: 1))
        )
        dataDirectory = try read.string("storage.directory")
        postgres = try Self.postgresSettings(read)
        revocationInterval = try read.seconds("revocation.interval", minimum: 1)
        issuer = try read.string("tokens.issuer")
        audience = try read.string("tokens.audience")
        accessTTL = try read.seconds("tokens.accessTTL", minimum: 1)
        leeway = try read.seconds("tokens.leeway")
        maxTokenSize = try read.int("tokens.maxSize", in: 512...65536)
        refreshIdleTTL = try read.seconds("refresh.idleTTL", minimum: 1)
        refreshAbsoluteTTL = try read.seconds("refresh.absoluteTTL", minimum: 1)
        reuseGrace = try read.seconds("refresh.reuseGrace")
        accessCookieName = try read.cookieName("cookies.accessName")
        refreshCookieName = try read.cookieName("cookies.refreshName")
        allowedOrigins = try read.list("http.allowedOrigins")
        trustedProxies = try read.list("http.trustedProxies")
        loginPage = try read.string("http.loginPage")
        argon2MemoryKiB = try read.int("passwords.memory", in: 8...(4 << 20))
        argon2Iterations = try read.int("passwords.iterations", in: 1...64)
        argon2Parallelism = try read.int("passwords.parallelism", in: 1...16)
        hashingThreads = try read.int("passwords.hashingThreads", in: 0...256)
        hashingMaxQueued = try read.int("passwords.maxQueued", in: 0...100_000)
        throttleUserLimit = try read.int("throttle.userLimit", in: 1...1_000_000)
        throttleAddressLimit = try read.int("throttle.addressLimit", in: 1...1_000_000)
        throttleBaseLockout = try read.seconds("throttle.baseLockout", minimum: 1)
        throttleMaxLockout = try read.seconds("throttle.maxLockout", minimum: 1)
        throttleForgetAfter = try read.seconds("throttle.forgetAfter", minimum: 1)
        guard let level = Logger.Level(rawValue: try read.string("logging.level")) else {
            throw ConfigurationError(key: "logging.level", problem: "expected trace, debug, info, notice, warning, error or critical")
        }
        logLevel = level
        logFormat = try read.string("logging.format")
        try validate()
    }

    /// The PostgreSQL settings when `storage.url` is set.
    private static func postgresSettings(_ read: ValueReader) throws -> PostgresSettings? {
        guard let url = read.optionalString("storage.url") else { return nil }
        guard let tls = PostgresSettings.TLSMode(rawValue: try read.string("storage.tls")) else {
            throw ConfigurationError(key: "storage.tls", problem: "expected disable, prefer or require")
        }
        let poolSize = try read.int("storage.poolSize", in: 1...1000)
        let timeout = try read.seconds("storage.connectTimeout", minimum: 1)
        var password: String?
        if let passwordFile = read.optionalString("storage.passwordFile") {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ConfigurationError(key: "storage.passwordFile", problem: "cannot be read")
            }
            password = text.trimmingCharacters(in: .newlines)
        }
        do {
            return try PostgresSettings(
                url: url, tls: tls, poolSize: poolSize, connectTimeout: .seconds(timeout), passwordOverride: password)
        } catch let error as PostgresSettingsError {
            throw ConfigurationError(key: "storage.url", problem: error.description)
        }
    }

    /// Cross-key checks.
    private func validate() throws {
        guard ["logfmt", "json"].contains(logFormat) else {
            throw ConfigurationError(key: "logging.format", problem: "expected logfmt or json")
        }
        guard refreshIdleTTL <= refreshAbsoluteTTL else {
            throw ConfigurationError(key: "refresh.idleTTL", problem: "must not exceed refresh.absoluteTTL")
        }
        guard argon2MemoryKiB >= 8 * argon2Parallelism else {
            throw ConfigurationError(key: "passwords.memory", problem: "must be at least 8 × passwords.parallelism")
        }
        guard throttleBaseLockout <= throttleMaxLockout else {
            throw ConfigurationError(key: "throttle.baseLockout", problem: "must not exceed throttle.maxLockout")
        }
        guard accessCookieName.hasPrefix("__Host-") || !accessCookieName.hasPrefix("__") else {
            throw ConfigurationError(key: "cookies.accessName", problem: "only the __Host- prefix is valid for a Path=/ cookie")
        }
        for origin in allowedOrigins where !(origin.hasPrefix("https://") || origin.hasPrefix("http://")) || origin.hasSuffix("/") {
            throw ConfigurationError(key: "http.allowedOrigins", problem: "`\(origin)` is not an origin like https://example.com")
        }
        guard loginPage.hasPrefix("/") || loginPage.hasPrefix("https://") || loginPage.hasPrefix("http://") else {
            throw ConfigurationError(key: "http.loginPage", problem: "expected a path starting with / or an absolute URL")
        }
    }

    /// `key = value (source)` lines for `config check`, secrets redacted.
    public func describe() -> String {
        ConfigurationKey.all.map { key in
            var value = key.isSecret ? "<redacted>" : (values[key.name] ?? "")
            if key.name == "storage.url" { value = PostgresSettings.redacting(value) }
            return "\(key.name) = \(value)    # \(sources[key.name] ?? "default")"
        }.joined(separator: "\n")
    }
}
