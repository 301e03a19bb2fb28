import FastCGI
import Foundation
import Logging
import Testing
import TokenGateAPI
import TokenGateHTTP

/// Keep-alive, HEAD, failing handlers and the worker pool, over real FastCGI connections.
@Suite(.serialized) struct ConnectionTests {
    /// A handler error that is not a `TokenGateError`.
    struct Explosion: Error {}

    static let apiWorkers = 3

    /// An `APIResponder` with a route that throws, on a small pool of workers.
    static let api: TestServer = SharedServers.start {
        let responder = APIResponder(
            endpoints: [
                Endpoint(.get, "/boom") { _, _ in throw Explosion() },
                Endpoint(.get, "/ok") { _, _ in .json(.ok, Array(#"{"ok":true}"#.utf8)) },
                Endpoint(.get, "/empty") { _, _ in Response(status: .noContent) },
                Endpoint(.get, "/big") { _, _ in
                    Response(status: .ok, body: (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) })
                },
            ],
            maxBodySize: 1024, logger: .silent)
        return try TestServer(responder: responder, workers: apiWorkers)
    }

    /// A server that closes kept-alive connections idle for 300 ms.
    static let impatient: TestServer = SharedServers.start {
        try TestServer(responder: EchoResponder(), workers: 2, idleTimeout: .milliseconds(300))
    }

    @Test func twentyRequestsShareOneKeptConnection() throws {
        let client = try SharedServers.echo.connect()
        for index in 0..<20 {
            let echo = try Echo(try client.send(.nginx("GET", "/auth/item\(index)", query: "n=\(index)")))
            #expect(echo.path == "/item\(index)")
            #expect(echo.query == "n=\(index)")
        }
    }

    @Test func withoutKeepConnTheServerClosesAfterTheResponse() throws {
        let client = try SharedServers.echo.connect()
        let response = try client.send(.nginx("GET", "/auth/me", keepConnection: false))
        #expect(response.status == 200)
        #expect(client.isClosedByServer())
    }

    @Test func responseCarriesStatusContentTypeAndLength() throws {
        let response = try SharedServers.echo.connect().send(.nginx("GET", "/auth/me"))
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "application/json")
        #expect(response.header("Content-Length") == String(response.body.count))
        #expect(response.appStatus == 0)
        #expect(response.protocolStatus == 0)
    }

    @Test func headResponseHasContentLengthButNoBody() throws {
        let client = try SharedServers.echo.connect()
        let head = try client.send(.nginx("HEAD", "/auth/me"))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        let length = try #require(head.header("Content-Length").flatMap { Int($0) })
        #expect(length > 0)
        #expect(head.headers.filter { $0.name.lowercased() == "content-length" }.count == 1)
        // Nothing stray was written: the kept connection still carries the next request.
        #expect(try client.send(.nginx("GET", "/auth/after")).status == 200)
    }

    @Test func largeResponsesSpanManyRecords() throws {
        let client = try Self.api.connect()
        for _ in 0..<2 {
            let response = try client.send(.nginx("GET", "/auth/big"))
            #expect(response.status == 200)
            #expect(response.body.count == 300_000)
            #expect(response.body == (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) })
            #expect(response.header("Content-Length") == "300000")
        }
    }

    @Test func noContentHasNoContentLength() throws {
        let response = try Self.api.connect().send(.nginx("GET", "/auth/empty"))
        #expect(response.status == 204)
        #expect(response.header("Content-Length") == nil)
    }

    @Test
    func headOfANoContentRouteHasNoContentLength() throws {
        let response = try Self.api.connect().send(.nginx("HEAD", "/auth/empty"))
        #expect(response.status == 204)
        #expect(response.header("Content-Length") == nil)
    }

    @Test func handlerErrorBecomes500InternalErrorJSON() throws {
        let response = try Self.api.connect().send(.nginx("GET", "/auth/boom"))
        #expect(response.status == 500)
        #expect(response.header("Content-Type") == "application/json")
        #expect(try response.json()["error"] as? String == "internal_error")
        #expect(!String(decoding: response.body, as: UTF8.self).contains("Explosion"))
    }

    @Test func poolKeepsItsSizeAfterHandlerErrors() throws {
        for _ in 0..<5 {
            #expect(try Self.api.connect().send(.nginx("GET", "/auth/boom", keepConnection: false)).status == 500)
        }
        // Every worker is still alive: pin all but one with kept connections (each worker serves
        // one connection at a time), and the last one still answers a new connection.
        var pinned: [FastCGIClient] = []
        for _ in 0..<(Self.apiWorkers - 1) {
            let client = try Self.api.connect()
            #expect(try client.send(.nginx("GET", "/auth/boom")).status == 500)
            pinned.append(client)
        }
        #expect(try Self.api.connect().send(.nginx("GET", "/auth/ok", keepConnection: false)).status == 200)
        for client in pinned {
            #expect(try client.send(.nginx("GET", "/auth/ok")).status == 200)
        }
    }

    @Test func busyWorkersReturnToZeroAfterResponses() throws {
        _ = try Self.api.connect().send(.nginx("GET", "/auth/ok", keepConnection: false))
        #expect(waitUntil { Self.api.server.busyWorkers == 0 })
    }

    @Test func unknownRouteThroughTheTransportIs404() throws {
        let response = try Self.api.connect().send(.nginx("GET", "/auth/nothing"))
        #expect(response.status == 404)
        #expect(try response.json()["error"] as? String == "not_found")
        let outside = try Self.api.connect().send(.nginx("GET", "/elsewhere/ok"))
        #expect(outside.status == 404)
    }

    @Test func idleKeptConnectionIsClosedAfterTheIdleTimeout() throws {
        let client = try Self.impatient.connect()
        #expect(try client.send(.nginx("GET", "/auth/me")).status == 200)
        #expect(!client.isClosedByServer(within: 0.1), "the connection should be kept alive at first")
        #expect(client.isClosedByServer(within: 3))
        // libfcgi lingers (up to 2 s) until the peer closes too; nginx closes at once.
        client.close()
        // Both workers are free again for new connections.
        #expect(try Self.impatient.connect().send(.nginx("GET", "/auth/me")).status == 200)
        #expect(try Self.impatient.connect().send(.nginx("GET", "/auth/me")).status == 200)
    }

    @Test
    func idleTimeoutAlsoAppliesToAConnectionAcceptedAfterAnIdleClose() async {
        // In a child process, with the client's descriptors moved high, so the server gets the
        // lowest free numbers as it would in its own process.
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let server = try TestServer(responder: EchoResponder(), workers: 1, idleTimeout: .milliseconds(300))
            SharedServers.register(server.socketPath)
            let first = try FastCGIClient(unixPath: server.socketPath, minimumDescriptor: 500)
            childCheck(try first.send(.nginx("GET", "/auth/me")).status == 200, "first request failed")
            childCheck(first.isClosedByServer(within: 3), "the first connection was never closed for idleness")
            first.close()
            // libfcgi closes the idle connection inside FCGX_Accept_r and accepts this one under
            // the same descriptor number.
            let second = try FastCGIClient(unixPath: server.socketPath, minimumDescriptor: 600)
            childCheck(try second.send(.nginx("GET", "/auth/me")).status == 200, "second request failed")
            childCheck(second.isClosedByServer(within: 3), "the second connection was never closed for idleness")
        }
        reportChildOutput(result)
    }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitUntil(seconds: Double = 2, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
