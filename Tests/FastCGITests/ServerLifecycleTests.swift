import FastCGI
import Foundation
import Synchronization
import Testing
import TokenGateHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// Opening the socket, refusing to steal a live one, stopping and draining.
///
/// Tests that call `stop()` run in a child process (see `SharedServers`).
@Suite struct ServerLifecycleTests {
    @Test func stopMakesRunReturnTrueAndRemovesTheSocketFile() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let server = try TestServer(responder: EchoResponder())
            SharedServers.register(server.socketPath)
            let client = try server.connect()
            childCheck(try client.send(.nginx("GET", "/auth/me")).status == 200, "request before stop failed")
            childCheck(FileManager.default.fileExists(atPath: server.socketPath), "socket file missing while running")
            let drained = server.stop()
            childCheck(drained == true, "run() returned \(String(describing: drained)), expected true")
            childCheck(!FileManager.default.fileExists(atPath: server.socketPath), "socket file left behind")
        }
        reportChildOutput(result)
    }

    @Test func stopClosesIdleKeptConnectionsAndFinishesInFlightRequests() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let gate = SlowResponder()
            let server = try TestServer(responder: gate, workers: 2)
            SharedServers.register(server.socketPath)
            let idle = try server.connect()
            childCheck(try idle.send(.nginx("GET", "/auth/fast")).status == 200, "warm-up request failed")
            let status = Mutex<Int?>(nil)
            let done = DispatchSemaphore(value: 0)
            let path = server.socketPath
            Thread {
                let response = try? FastCGIClient(unixPath: path).send(.nginx("GET", "/auth/slow"))
                status.withLock { $0 = response?.status }
                done.signal()
            }.start()
            childCheck(gate.started.wait(timeout: .now() + 5) == .success, "slow request never arrived")
            let stopped = DispatchSemaphore(value: 0)
            let drained = Mutex<Bool?>(nil)
            Thread {
                let result = server.stop()
                drained.withLock { $0 = result }
                stopped.signal()
            }.start()
            childCheck(idle.isClosedByServer(within: 5), "an idle kept connection was not closed by stop()")
            gate.release.signal()
            childCheck(done.wait(timeout: .now() + 5) == .success, "in-flight request did not finish")
            childCheck(
                status.withLock { $0 } == 200, "in-flight request got \(String(describing: status.withLock { $0 }))")
            childCheck(stopped.wait(timeout: .now() + 10) == .success, "stop() did not return")
            childCheck(drained.withLock { $0 } == true, "run() did not report a complete drain")
        }
        reportChildOutput(result)
    }

    @Test
    func serverStartedAfterAnotherWasStoppedAcceptsRequests() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let first = try TestServer(responder: EchoResponder())
            SharedServers.register(first.socketPath)
            childCheck(first.stop() == true, "first server did not stop cleanly")
            let second = try TestServer(responder: EchoResponder())
            SharedServers.register(second.socketPath)
            let client = try FastCGIClient(unixPath: second.socketPath, timeout: 2)
            let response = try? client.send(.nginx("GET", "/auth/me"))
            childCheck(response?.status == 200, "a server started after a stop() never answers")
        }
        reportChildOutput(result)
    }

    @Test func staleSocketFileIsReplaced() throws {
        let path = TestServer.makeSocketPath()
        defer { unlink(path) }
        try makeStaleSocket(at: path)
        #expect(throws: (any Error).self, "nothing listens on a stale socket") { try FastCGIClient(unixPath: path) }
        _ = try FastCGIServer(
            configuration: .init(address: .unix(path: path, mode: 0o600), workers: 1), responder: EchoResponder(),
            logger: .silent)
        let after = try FileManager.default.attributesOfItem(atPath: path)
        #expect(after[.type] as? FileAttributeType == .typeSocket)
        #expect(after[.posixPermissions] as? Int == 0o600)
        // Something listens there now (the kernel queues the connection until a worker accepts).
        _ = try FastCGIClient(unixPath: path)
    }

    @Test func liveSocketIsNotTakenOver() throws {
        let live = SharedServers.echo
        #expect(try live.connect().send(.nginx("GET", "/auth/me")).status == 200)
        let error = #expect(throws: ListenerError.self) {
            try FastCGIServer(
                configuration: .init(address: .unix(path: live.socketPath, mode: 0o600), workers: 1),
                responder: EchoResponder(), logger: .silent)
        }
        #expect(error?.code == EADDRINUSE)
        #expect(error?.description.contains(live.socketPath) == true)
        #expect(try live.connect().send(.nginx("GET", "/auth/me")).status == 200)
    }

    @Test func pathThatIsNotASocketIsRefusedAndKept() throws {
        let path = TestServer.makeSocketPath()
        defer { unlink(path) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        let error = #expect(throws: ListenerError.self) {
            try FastCGIServer(
                configuration: .init(address: .unix(path: path, mode: 0o600), workers: 1), responder: EchoResponder(),
                logger: .silent)
        }
        #expect(error?.code == EEXIST)
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }

    @Test func socketPathLongerThanSunPathIsRefused() {
        let path = "/tmp/" + String(repeating: "x", count: 110) + ".sock"
        #expect(throws: ListenerError.self) {
            try FastCGIServer(
                configuration: .init(address: .unix(path: path, mode: 0o600), workers: 1), responder: EchoResponder(),
                logger: .silent)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

/// Answers `/slow` only after `release` is signalled; everything else at once.
final class SlowResponder: Responder {
    let started = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)

    func respond(to request: Request) async -> Response {
        if request.path == "/slow" {
            started.signal()
            release.wait()
        }
        return .json(.ok, Array("{}".utf8))
    }
}

/// Binds a unix socket at `path` and closes it without unlinking: what a crashed server leaves.
func makeStaleSocket(at path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        buffer.copyBytes(from: path.utf8)
        buffer[path.utf8.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    try #require(bound == 0)
}

/// Reports the `FAIL:` lines an exit test's child wrote with `childCheck(_:_:)`.
func reportChildOutput(_ result: ExitTest.Result?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let output = result?.standardErrorContent else { return }
    for line in String(decoding: output, as: UTF8.self).split(separator: "\n") where line.hasPrefix("FAIL: ") {
        Issue.record("child process: \(line.dropFirst(6))", sourceLocation: sourceLocation)
    }
}
