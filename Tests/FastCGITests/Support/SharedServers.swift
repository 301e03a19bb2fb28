import Foundation
import Synchronization
import TokenGateHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Servers shared by the tests of one suite and never stopped in this process (their socket
/// files are removed at exit): one small worker pool per suite instead of one per test.
///
/// Tests that stop a server run in an exit test (a child process), so a stop that fails to
/// drain cannot wedge the test process, and each starts from libfcgi's initial global state
/// (until 80c0b07, `stop()` set libfcgi's process-wide shutdown flag, which broke every later
/// server in the process; `serverStartedAfterAnotherWasStoppedAcceptsRequests` guards that).
enum SharedServers {
    /// Echoes requests; 1 KiB body limit, base path `/auth`; enough workers for the suites that
    /// share it to keep connections alive at the same time.
    static let echo: TestServer = start { try TestServer(responder: EchoResponder(), workers: 8) }

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
