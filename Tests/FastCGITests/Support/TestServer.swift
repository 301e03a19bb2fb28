import FastCGI
import Foundation
import Logging
import Synchronization
import TokenGateHTTP

/// A real `FastCGIServer` on a fresh unix socket under `/tmp`, running on its own thread.
///
/// ```swift
/// let server = try TestServer(responder: EchoResponder())
/// defer { server.stop() }
/// let client = try server.connect()
/// ```
final class TestServer: Sendable {
    let server: FastCGIServer
    let socketPath: String
    private let finished = DispatchSemaphore(value: 0)
    private let result = Mutex<Bool?>(nil)

    /// Opens the socket and starts `run()` on a background thread.
    init(
        responder: any Responder, workers: Int = 2, maxBodySize: Int = 1024, basePath: String = "/auth",
        idleTimeout: Duration = .seconds(5), socketPath: String = TestServer.makeSocketPath()
    ) throws {
        self.socketPath = socketPath
        server = try FastCGIServer(
            configuration: .init(
                address: .unix(path: socketPath, mode: 0o600), workers: workers, maxBodySize: maxBodySize,
                basePath: basePath, drainTimeout: .seconds(5), idleTimeout: idleTimeout, backlog: 16),
            responder: responder, logger: .silent)
        let thread = Thread { [self] in
            let drained = server.run()
            result.withLock { $0 = drained }
            finished.signal()
        }
        thread.name = "fastcgi-test-server"
        thread.start()
    }

    /// A short socket path (`sun_path` holds at most 107 bytes).
    static func makeSocketPath() -> String {
        "/tmp/tg-fcgi-\(UUID().uuidString.prefix(8).lowercased()).sock"
    }

    /// A new client connection to this server.
    func connect() throws -> FastCGIClient {
        try FastCGIClient(unixPath: socketPath)
    }

    /// Stops the server and waits for `run()` to return; `nil` when it did not return in time.
    @discardableResult
    func stop(waiting seconds: Double = 10) -> Bool? {
        server.stop()
        guard finished.wait(timeout: .now() + seconds) == .success else { return nil }
        finished.signal()  // later calls return at once
        return result.withLock { $0 }
    }
}

extension Logger {
    /// A logger that drops everything, so test output stays readable.
    static var silent: Logger {
        Logger(label: "tokengate.tests.fastcgi") { _ in SwiftLogNoOpLogHandler() }
    }
}
