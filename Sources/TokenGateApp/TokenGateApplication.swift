import FastCGI
import Foundation
public import Logging
import TokenGateAPI
import TokenGateAuth
import TokenGateHTTP
public import Metrics
import Synchronization

/// The server: services, endpoints, the FastCGI worker pool and the background revocation sync.
///
/// ```swift
/// let app = try await TokenGateApplication(configuration: configuration, logger: logger)
/// SignalWaiter.start { event in ... app.stop() ... }
/// app.run()
/// ```
public final class TokenGateApplication: Sendable {
    private let current: Mutex<TokenGateServices>
    private let responder: SwappableResponder
    private let apiMetrics: APIMetrics
    private let exposition: @Sendable () -> [UInt8]
    private let logger: Logger
    private let server: FastCGIServer
    private let sync: Task<Void, Never>
    private let metrics: MetricsRegistry
    private let serverReference: ServerReference

    /// The swift-metrics backend to bootstrap once per process (`MetricsSystem.bootstrap`).
    public var metricsFactory: any MetricsFactory { metrics.factory }

    /// Creates the alerting counters at zero; call right after bootstrapping `metricsFactory`.
    public func primeMetrics() {
        apiMetrics.prime()
    }

    /// Opens storage and keys and binds the listening socket.
    /// - Throws: `ConfigurationError`, `ListenerError`, `KeyFileError` or `TokenGateError`.
    public init(configuration: TokenGateConfiguration, logger: Logger) async throws {
        let services = try await TokenGateServices(configuration: configuration, logger: logger)
        self.current = Mutex(services)
        self.logger = logger
        let metrics = MetricsRegistry()
        let revocationSync = RevocationSync(
            store: services.sessionStore, revocations: services.revocations, clock: services.clock,
            retention: TimeInterval(configuration.accessTTL + configuration.leeway),
            interval: .seconds(configuration.revocationInterval),
            logger: Logger(label: "tokengate.revocation"), reportActiveSessions: { metrics.setActiveSessions($0) })
        try await revocationSync.loadInitial()
        let serverReference = ServerReference()
        self.metrics = metrics
        self.serverReference = serverReference
        let apiMetrics = APIMetrics()
        let exposition: @Sendable () -> [UInt8] = {
            metrics.exposition(
                server: serverReference.server, configuredWorkers: configuration.fastCGI.workers,
                hashing: services.hashingPool, revocations: services.revocations)
        }
        self.apiMetrics = apiMetrics
        self.exposition = exposition
        let responder = SwappableResponder(Self.responder(services, metrics: apiMetrics, exposition: exposition))
        self.responder = responder
        server = try FastCGIServer(
            configuration: configuration.fastCGI, responder: responder, logger: Logger(label: "tokengate.fastcgi"))
        serverReference.server = server
        sync = Task { await revocationSync.run() }
        logger.info("signing key", metadata: ["key.kid": "\(services.keys.signingKid ?? "none")"])
    }

    /// The services built from the configuration currently in force.
    public var services: TokenGateServices { current.withLock { $0 } }

    /// The application's responder for `services`.
    static func responder(
        _ services: TokenGateServices, metrics: APIMetrics, exposition: @escaping @Sendable () -> [UInt8]
    ) -> APIResponder {
        APIResponder(
            endpoints: endpoints(services, metrics: metrics) + [MetricsEndpoint(exposition: exposition).endpoint],
            maxBodySize: services.configuration.fastCGI.maxBodySize, logger: Logger(label: "tokengate.api"),
            metrics: metrics)
    }

    /// The route table.
    static func endpoints(_ services: TokenGateServices, metrics: APIMetrics? = nil) -> [Endpoint] {
        let configuration = services.configuration
        let web = WebSettings(
            basePath: configuration.fastCGI.basePath, accessCookieName: configuration.accessCookieName,
            refreshCookieName: configuration.refreshCookieName, allowedOrigins: configuration.allowedOrigins,
            trustedProxies: configuration.trustedProxies, loginPage: configuration.loginPage)
        let clock = services.clock
        return [
            HealthEndpoint(store: services.storage).endpoint,
            LoginEndpoint(login: services.login, clock: clock, web: web, metrics: metrics).endpoint,
            LogoutEndpoint(sessions: services.sessions, tokens: services.tokens, clock: clock, web: web).endpoint,
            MeEndpoint(tokens: services.tokens, users: services.userStore, clock: clock, web: web).endpoint,
            VerifyEndpoint(tokens: services.tokens, clock: clock, web: web, logger: Logger(label: "tokengate.verify")).endpoint,
            JWKSEndpoint(keys: services.keys).endpoint,
        ]
            + RefreshEndpoint(
                sessions: services.sessions, users: services.userStore, tokens: services.tokens, clock: clock, web: web,
                metrics: metrics
            ).endpoints
    }

    /// Serves until `stop()`; returns whether every in-flight request finished in time.
    @discardableResult
    public func run() -> Bool {
        let drained = server.run()
        sync.cancel()
        services.storage.close()
        return drained
    }

    /// Stops accepting and drains in-flight requests.
    public func stop() {
        server.stop()
    }

    /// SIGHUP: reloads the signing keys and every setting that needs no new socket or threads.
    /// In-flight requests finish on the previous settings; the next ones use the new ones. A
    /// configuration error keeps everything as it was. Changed restart-only keys are logged.
    /// - Parameter load: reads the configuration again (file, environment, flags).
    public func reload(loading load: @escaping @Sendable () throws -> TokenGateConfiguration) {
        let logger = self.logger
        Task {
            do {
                let old = services
                let configuration = try load()
                let needRestart = ConfigurationKey.all.filter {
                    $0.needsRestart && old.configuration.values[$0.name] != configuration.values[$0.name]
                }.map(\.name)
                if !needRestart.isEmpty {
                    logger.warning(
                        "changed settings take effect after a restart",
                        metadata: ["config.keys": "\(needRestart.joined(separator: " "))"])
                }
                try await old.keys.replace(with: old.keyDirectory.load(now: old.clock.now))
                let services = try TokenGateServices(configuration: configuration, resources: old.resources, clock: old.clock)
                responder.replace(Self.responder(services, metrics: apiMetrics, exposition: exposition))
                current.withLock { $0 = services }
                LineLogHandler.setLevel(configuration.logLevel)
                logger.info(
                    "configuration reloaded", metadata: ["key.kid": "\(services.keys.signingKid ?? "none")"])
            } catch {
                logger.error("reload failed; keeping the previous configuration and keys", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The responder the worker pool calls; swapped atomically on reload.
final class SwappableResponder: Responder {
    private let current: Mutex<APIResponder>

    init(_ responder: APIResponder) {
        current = Mutex(responder)
    }

    func replace(_ responder: APIResponder) {
        current.withLock { $0 = responder }
    }

    func respond(to request: Request) async -> Response {
        let responder = current.withLock { $0 }
        return await responder.respond(to: request)
    }
}

/// Lets the metrics exposition reach the server, which is created after the endpoints.
final class ServerReference: Sendable {
    private let value = Mutex<FastCGIServer?>(nil)

    var server: FastCGIServer? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
