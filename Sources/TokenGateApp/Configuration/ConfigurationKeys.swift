/// Every configuration key with its default and meaning: the single source for parsing,
/// `config check`, `tokengate.env.example` and the docs.
public struct ConfigurationKey: Sendable {
    /// Dot-separated name, e.g. `tokens.accessTTL`.
    public let name: String
    /// The default, as it would be written in the file.
    public let defaultValue: String
    /// One sentence for operators.
    public let summary: String
    /// Whether the value is redacted when printed.
    public let isSecret: Bool
    /// Whether a change needs a restart (it cannot be applied by SIGHUP).
    public let needsRestart: Bool

    init(_ name: String, _ defaultValue: String, _ summary: String, secret: Bool = false, restart: Bool = false) {
        self.name = name
        self.defaultValue = defaultValue
        self.summary = summary
        self.isSecret = secret
        self.needsRestart = restart
    }

    /// The environment variable that overrides this key: `tokens.accessTTL` → `TOKENGATE_TOKENS_ACCESS_TTL`.
    public var environmentName: String {
        var result = "TOKENGATE_"
        var previousWasLower = false
        for character in name {
            if character == "." {
                result += "_"
                previousWasLower = false
            } else if character.isUppercase {
                if previousWasLower { result += "_" }
                result += String(character)
                previousWasLower = false
            } else {
                result += character.uppercased()
                previousWasLower = character.isLowercase || character.isNumber
            }
        }
        return result
    }
}

extension ConfigurationKey {
    /// All keys, in documentation order.
    public static let all: [ConfigurationKey] = [
        .init("fastcgi.listen", "unix:/run/tokengate/tokengate.sock",
              "Where to listen: `unix:/path`, `host:port` (loopback or private network only), or `fd:0` for an inherited socket.",
              restart: true),
        .init("fastcgi.socketMode", "0660", "File mode of the unix socket (octal); nginx's group must be able to write it.", restart: true),
        .init("fastcgi.workers", "16", "Worker threads; each serves one FastCGI connection at a time (see the sizing rule).", restart: true),
        .init("fastcgi.basePath", "/auth", "The path prefix nginx mounts tokengate under; stripped from DOCUMENT_URI.", restart: true),
        .init("fastcgi.maxBodySize", "16384", "Largest accepted request body in bytes; larger bodies get 413 unread.", restart: true),
        .init("fastcgi.drainTimeout", "10s", "How long SIGTERM waits for in-flight requests.", restart: true),
        .init("fastcgi.idleTimeout", "5s", "A kept-alive FastCGI connection idle this long is closed, freeing its worker.", restart: true),
        .init("storage.directory", "/var/lib/tokengate", "Data directory: the SQLite database and the signing keys.", restart: true),
        .init("storage.url", "",
              "Empty: SQLite in storage.directory. `postgres://user@host:port/database`: PostgreSQL, shared by several nodes (its password is redacted when printed).",
              restart: true),
        .init("storage.passwordFile", "", "File holding the PostgreSQL password (wins over a password in storage.url).", restart: true),
        .init("storage.tls", "prefer", "TLS to PostgreSQL: disable (loopback or private network only), prefer, or require (certificate and host name verified).", restart: true),
        .init("storage.poolSize", "8", "Most PostgreSQL connections this process opens.", restart: true),
        .init("storage.connectTimeout", "3s", "How long a login or refresh waits for a PostgreSQL connection before 503 `unavailable`.", restart: true),
        .init("revocation.interval", "1s", "How often revocations made elsewhere (other nodes, the CLI) are loaded into this node's gate.", restart: true),
        .init("tokens.issuer", "tokengate", "The `iss` claim of access tokens and the issuer verification expects."),
        .init("tokens.audience", "tokengate", "The `aud` claim of access tokens and the audience verification expects."),
        .init("tokens.accessTTL", "15m", "Lifetime of an access token (also the access cookie's Max-Age)."),
        .init("tokens.leeway", "30s", "Clock skew tolerated when checking exp and nbf."),
        .init("tokens.maxSize", "8192", "Tokens longer than this many bytes are rejected before parsing."),
        .init("refresh.idleTTL", "7d", "A session not refreshed for this long ends."),
        .init("refresh.absoluteTTL", "30d", "A session ends this long after login, however active."),
        .init("refresh.reuseGrace", "10s", "Presenting a just-rotated refresh token within this window returns the same successor."),
        .init("cookies.accessName", "__Host-access", "Name of the access-token cookie (Path=/)."),
        .init("cookies.refreshName", "__Secure-refresh", "Name of the refresh-token cookie (Path=base path)."),
        .init("http.allowedOrigins", "", "Space-separated origins allowed to POST (default: the request's own origin only)."),
        .init("http.trustedProxies", "", "Space-separated addresses whose X-Forwarded-For is believed (default: none)."),
        .init("http.loginPage", "/", "Where failed form logins and failed navigation refreshes are sent (with `rd` kept)."),
        .init("passwords.memory", "19456", "Argon2id memory cost in KiB."),
        .init("passwords.iterations", "2", "Argon2id time cost."),
        .init("passwords.parallelism", "1", "Argon2id lanes."),
        .init("passwords.hashingThreads", "0", "Threads that run Argon2id (0 = number of cores); bounds login CPU use.", restart: true),
        .init("passwords.maxQueued", "0", "Logins allowed to wait for a hashing thread before 503 (0 = 4 × threads).", restart: true),
        .init("throttle.userLimit", "5", "Failed logins for one username before it is locked out."),
        .init("throttle.addressLimit", "30", "Failed logins from one client address before it is locked out."),
        .init("throttle.baseLockout", "2s", "First lockout; doubles with each further failure."),
        .init("throttle.maxLockout", "15m", "Longest lockout."),
        .init("throttle.forgetAfter", "15m", "Failure counts are forgotten after this long without failures."),
        .init("logging.level", "info", "Log level: trace, debug, info, notice, warning, error, critical."),
        .init("logging.format", "logfmt", "Log line format: logfmt or json."),
    ]

    /// The key named `name`.
    public static func named(_ name: String) -> ConfigurationKey? {
        all.first { $0.name == name }
    }
}
