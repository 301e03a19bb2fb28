import Foundation
import Synchronization
import TokenGateHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Servers shared by the tests of one suite and never stopped in this process.
///
/// `FastCGIServer.stop()` calls `FCGX_ShutdownPending()`, which sets a process-wide libfcgi flag
/// that is never cleared: after any stop, no server in the process can accept again. So the
/// in-process tests keep their servers running until the test process exits (their socket files
/// are removed at exit), and every test that stops a server runs in an exit test (a child process).
enum SharedServers {
    /// Echoes requests; 4 workers, 1 KiB body limit, base path `/auth`.
    static let echo: TestServer = start { try TestServer(responder: EchoResponder(), workers: 4) }

    /// Starts a server and registers its socket file for removal when the process exits.
    static func start(_ make: () throws -> TestServer) -> TestServer {
        do {
            let server = try make()
            register(server.socketPath)
            return server
        } catch {
            fatalError("cannot start the shared FastCGI test server: \(error)")
        }
    }

    private static let socketPaths = Mutex<[String]>([])
    private static let registerCleanup: Void = {
        atexit {
            for path in SharedServers.socketPaths.withLock({ $0 }) { unlink(path) }
        }
    }()

    /// Removes `path` when the process exits.
    static func register(_ path: String) {
        _ = registerCleanup
        socketPaths.withLock { $0.append(path) }
    }
}

/// A check for code that runs in an exit test's child process. A failure writes `FAIL: <message>`
/// to standard error and exits; the parent test reports it with `reportChildOutput(_:)`.
///
/// The child exits with status 0 even then: `#expect(processExitsWith:)` returns no result (and so
/// no output) when the condition is not met, and the message is what makes a failure readable.
func childCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    FileHandle.standardError.write(Data(("FAIL: " + message() + "\n").utf8))
    exit(0)
}
