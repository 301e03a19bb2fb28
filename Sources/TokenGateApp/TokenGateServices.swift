import FastCGI
import Foundation
public import Logging
public import TokenGateAuth
import TokenGatePostgres
import TokenGateSQLite

/// Every domain service wired to the configured storage: shared by `serve` and the admin CLI.
///
/// ```swift
/// let services = try await TokenGateServices(configuration: configuration, logger: logger)
/// try await services.users.add(username: "alice", name: "Alice", roles: ["admin"], password: pw, at: Date())
/// ```
public struct TokenGateServices: Sendable {
    public let configuration: TokenGateConfiguration
    public let clock: any WallClock
    /// The configured backend (SQLite or PostgreSQL); `/healthz` reports its reachability.
    public let storage: any Storage
    public let userStore: any UserStore
    public let sessionStore: any SessionStore
    public let hashingPool: HashingPool
    public let hasher: any PasswordHasher
    public let revocations: RevocationList
    public let keyDirectory: KeyDirectory
    public let keys: KeyRing
    public let tokens: AccessTokens
    public let sessions: SessionService
    public let users: UserService
    public let login: LoginService
    public let audit: AuditTrail

    /// What outlives a configuration reload: the store, the hashing threads, the revocation list
    /// and the keys. Everything else is rebuilt from the new configuration.
    public struct Resources: Sendable {
        let storage: any Storage
        let hashingPool: HashingPool
        let revocations: RevocationList
        let keyDirectory: KeyDirectory
        let keys: KeyRing
    }

    /// The shared resources of this instance (for `reconfigured(with:)`).
    public let resources: Resources

    /// Opens (and migrates) the store, loads or creates the signing key, builds the services.
    /// - Throws: `TokenGateError` or `KeyFileError` with a message for the operator.
    public init(configuration: TokenGateConfiguration, logger: Logger, clock: any WallClock = SystemClock()) async throws {
        try FileManager.default.createDirectory(
            atPath: configuration.dataDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let keyDirectory = KeyDirectory(path: configuration.keyDirectory)
        let resources = Resources(
            storage: try await Self.openStorage(configuration, logger: logger),
            hashingPool: HashingPool(
                threadCount: configuration.hashingThreads == 0 ? nil : configuration.hashingThreads,
                maxQueued: configuration.hashingMaxQueued == 0 ? nil : configuration.hashingMaxQueued),
            revocations: RevocationList(retention: TimeInterval(configuration.accessTTL + configuration.leeway)),
            keyDirectory: keyDirectory,
            keys: try await KeyRing(keys: keyDirectory.loadOrCreate(now: clock.now)))
        try self.init(configuration: configuration, resources: resources, clock: clock)
    }

    /// The services for `configuration` on existing resources (SIGHUP: new settings, same store).
    public init(configuration: TokenGateConfiguration, resources: Resources, clock: any WallClock = SystemClock()) throws {
        self.configuration = configuration
        self.clock = clock
        self.resources = resources
        resources.revocations.setRetention(TimeInterval(configuration.accessTTL + configuration.leeway))
        storage = resources.storage
        userStore = storage.users
        sessionStore = storage.sessions
        audit = AuditTrail(store: storage.audit, logger: Logger(label: "tokengate.audit"))
        hashingPool = resources.hashingPool
        hasher = try Argon2idPasswordHasher(
            parameters: Argon2Parameters(
                memoryKiB: configuration.argon2MemoryKiB, iterations: configuration.argon2Iterations,
                parallelism: configuration.argon2Parallelism),
            pool: hashingPool)
        revocations = resources.revocations
        keyDirectory = resources.keyDirectory
        keys = resources.keys
        tokens = AccessTokens(
            settings: TokenSettings(
                issuer: configuration.issuer, audience: configuration.audience, accessTTL: configuration.accessTTL,
                leeway: configuration.leeway, maxSize: configuration.maxTokenSize),
            keys: keys, revocations: revocations)
        sessions = SessionService(
            policy: SessionPolicy(
                idleTTL: configuration.refreshIdleTTL, absoluteTTL: configuration.refreshAbsoluteTTL,
                reuseGrace: configuration.reuseGrace),
            store: sessionStore, revocations: revocations, audit: audit)
        users = UserService(users: userStore, hasher: hasher, sessions: sessions)
        login = LoginService(
            users: userStore, hasher: hasher,
            throttle: LoginThrottle(
                policy: ThrottlePolicy(
                    userLimit: configuration.throttleUserLimit, addressLimit: configuration.throttleAddressLimit,
                    baseLockout: configuration.throttleBaseLockout, maxLockout: configuration.throttleMaxLockout,
                    forgetAfter: configuration.throttleForgetAfter),
                store: storage.throttle),
            sessions: sessions, tokens: tokens, audit: audit)
    }

    /// The storage `configuration` selects, migrated: PostgreSQL when `storage.url` is set, else
    /// the SQLite file in the data directory.
    static func openStorage(_ configuration: TokenGateConfiguration, logger: Logger) async throws -> any Storage {
        guard let settings = configuration.postgres else {
            // Half the workers at most wait for the store, so a locked or stuck database leaves the
            // other half to `/verify` and `/healthz` (the same reserve the keep-alive sizing keeps).
            return SQLiteStorage(
                database: try SQLiteDatabase(
                    path: configuration.databasePath, maxInFlightWrites: max(1, configuration.fastCGI.workers / 2)))
        }
        let storage = PostgresStorage(
            backend: PostgresBackend(settings: settings, logger: Logger(label: "tokengate.postgres")))
        do {
            let applied = try await storage.migrate()
            if !applied.isEmpty {
                logger.notice("migrated PostgreSQL", metadata: ["storage.migrations": "\(applied.joined(separator: " "))"])
            }
        } catch {
            storage.close()
            throw error
        }
        return storage
    }

    /// Applies pending migrations; returns their names (empty when up to date).
    public func migrate() async throws -> [String] {
        try await storage.migrate()
    }

    /// The newest applied migration.
    public func schemaVersion() async throws -> String? {
        try await storage.schemaVersion()
    }

    /// Writes a consistent online copy of the SQLite database to `path`.
    ///
    /// - Throws: `TokenGateError` `.invalidRequest` on PostgreSQL, which `pg_dump` backs up.
    public func backup(to path: String) throws {
        guard let sqlite = storage as? SQLiteStorage else {
            throw TokenGateError.invalidRequest(
                "backup copies the SQLite store only; back up PostgreSQL with pg_dump (see docs/scale-out.md).")
        }
        try sqlite.database.backup(to: path)
    }
}
