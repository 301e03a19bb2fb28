internal import CFastCGI
import Foundation
public import Logging
public import TokenGateHTTP

#if canImport(Glibc)
import Glibc
#endif

/// A pool of worker threads answering FastCGI requests from one listening socket.
///
/// ```swift
/// let server = try FastCGIServer(configuration: .init(address: .unix(path: "/run/tg.sock", mode: 0o660)),
///                                responder: app, logger: logger)
/// server.run()          // blocks until stop() was called and in-flight requests finished
/// ```
public final class FastCGIServer: Sendable {
    /// How the server listens and how much it accepts.
    public struct Configuration: Sendable {
        public var address: ListenAddress
        /// Number of worker threads; each serves one connection at a time.
        public var workers: Int
        /// Requests with a larger body are answered 413 without reading it.
        public var maxBodySize: Int
        /// The path prefix nginx mounts tokengate under (`/auth`); stripped from `DOCUMENT_URI`.
        public var basePath: String
        /// How long a stop waits for in-flight requests.
        public var drainTimeout: Duration
        /// A kept-alive connection idle for longer is closed so its worker can accept others.
        public var idleTimeout: Duration
        public var backlog: Int32

        public init(
            address: ListenAddress,
            workers: Int = 16,
            maxBodySize: Int = 16 * 1024,
            basePath: String = "/auth",
            drainTimeout: Duration = .seconds(10),
            idleTimeout: Duration = .seconds(5),
            backlog: Int32 = 1024
        ) {
            self.address = address
            self.workers = workers
            self.maxBodySize = maxBodySize
            self.basePath = basePath
            self.drainTimeout = drainTimeout
            self.idleTimeout = idleTimeout
            self.backlog = backlog
        }
    }

    private let configuration: Configuration
    private let responder: any Responder
    private let logger: Logger
    private let listener: Listener
    private let state: PoolState

    /// Opens the listening socket. Worker threads start in `run()`.
    /// - Throws: `ListenerError` when the socket cannot be opened.
    public init(configuration: Configuration, responder: any Responder, logger: Logger) throws {
        guard FCGX_Init() == 0 else {
            throw ListenerError(operation: "FCGX_Init", code: 0, message: "libfcgi failed to initialise")
        }
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.listener = try Listener(address: configuration.address, backlog: configuration.backlog)
        Self.installWakeSignal()
        self.state = PoolState(workers: configuration.workers)
    }

    /// The number of workers currently handling a request.
    public var busyWorkers: Int { state.busyCount }

    /// Starts the workers and blocks until `stop()` and the drain are complete.
    /// Returns `true` when every in-flight request finished within the drain timeout.
    @discardableResult
    public func run() -> Bool {
        logger.info(
            "listening",
            metadata: [
                "fastcgi.address": "\(configuration.address)", "fastcgi.workers": "\(configuration.workers)",
            ])
        let reader = RequestReader(maxBodySize: configuration.maxBodySize, basePath: configuration.basePath)
        for index in 0..<configuration.workers {
            let worker = Worker(
                index: index, listenFD: listener.fd, reader: reader, responder: responder, state: state,
                idleTimeout: configuration.idleTimeout, keepAliveReserve: max(1, configuration.workers / 4),
                logger: logger)
            let thread = Thread { worker.run() }
            thread.name = "tokengate-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        state.waitForStopRequest()
        if case .inherited = configuration.address {
            // The socket belongs to systemd or spawn-fcgi and must outlive this process (queued
            // connections wait there for the next one), so it is not shut down. libfcgi's
            // process-wide shutdown flag is fine here: an inherited socket is served once.
            FCGX_ShutdownPending()
            state.interruptAcceptors(timeout: configuration.drainTimeout)
        } else {
            listener.wakeAcceptors()
        }
        state.closeIdleConnections()
        let drained = state.waitForWorkers(timeout: configuration.drainTimeout)
        listener.close()
        if state.hasFailed {
            logger.critical("stopped because the listening socket failed")
            return false
        }
        if drained {
            logger.info("stopped", metadata: ["fastcgi.address": "\(configuration.address)"])
        } else {
            logger.warning("stopped with requests still in flight after the drain timeout")
        }
        return drained
    }

    /// SIGUSR1 interrupts a worker blocked in `accept` (no SA_RESTART, so `accept` fails with
    /// EINTR and libfcgi, with FCGI_FAIL_ACCEPT_ON_INTR, returns). It replaces libfcgi's own
    /// SIGUSR1 handler, which would set the process-wide shutdown flag.
    private static func installWakeSignal() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGUSR1, &action, nil)
    }

    /// Stops accepting and lets in-flight requests finish; safe to call from any thread, more than once.
    public func stop() {
        // Not FCGX_ShutdownPending(): that flag is process-wide and never reset, so a server
        // started later in the same process would refuse every request. Shutting down the
        // listening socket (in run()) is what wakes the workers blocked in accept.
        state.requestStop()
    }
}
