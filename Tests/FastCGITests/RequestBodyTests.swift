import Foundation
import Testing

/// The body is read fully up to the limit; a larger one is not read at all and ends the connection.
@Suite(.serialized) struct RequestBodyTests {
    let server = SharedServers.echo

    static func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    @Test(arguments: [1, 100, 1023, 1024])
    func bodyUpToTheLimitIsReadFully(size: Int) throws {
        let body = Self.bytes(size)
        let response = try server.connect().send(.nginx("POST", "/auth/login", body: body))
        let echo = try Echo(response)
        #expect(echo.bodyLength == size)
        #expect(echo.body == body)
        #expect(!echo.isBodyTooLarge)
    }

    @Test func bodySplitAcrossManyStdinRecordsIsJoined() throws {
        let body = Self.bytes(1000)
        var request = FastCGIRequest.nginx("POST", "/auth/login", body: body)
        request.stdinChunkSize = 13
        let echo = try Echo(try server.connect().send(request))
        #expect(echo.body == body)
    }

    @Test func declaredLengthOverTheLimitIsTooLargeAndUnread() throws {
        let client = try server.connect()
        let echo = try Echo(try client.send(.nginx("POST", "/auth/login", body: Self.bytes(1025))))
        #expect(echo.isBodyTooLarge)
        #expect(echo.bodyLength == 0)
    }

    @Test func tooLargeBodyClosesTheConnectionEvenWithKeepConn() throws {
        let client = try server.connect()
        let request = FastCGIRequest.nginx("POST", "/auth/login", body: Self.bytes(4000), keepConnection: true)
        #expect(try Echo(try client.send(request)).isBodyTooLarge)
        // The unread STDIN records must never be parsed as the next request.
        #expect(client.isClosedByServer())
    }

    @Test func bodyWithoutContentLengthOverTheLimitIsTooLarge() throws {
        var request = FastCGIRequest.nginx("POST", "/auth/login", body: Self.bytes(2000))
        request.params.removeAll { $0.0 == "CONTENT_LENGTH" }
        let client = try server.connect()
        let echo = try Echo(try client.send(request))
        #expect(echo.isBodyTooLarge)
        #expect(echo.bodyLength == 0)
        #expect(client.isClosedByServer())
    }

    @Test func negativeContentLengthIsTooLarge() throws {
        var request = FastCGIRequest.nginx("POST", "/auth/login")
        request.params.append(("CONTENT_LENGTH", "-1"))
        let client = try server.connect()
        #expect(try Echo(try client.send(request)).isBodyTooLarge)
        #expect(client.isClosedByServer())
    }

    @Test func bodyShorterThanDeclaredIsWhatWasSent() throws {
        var request = FastCGIRequest.nginx("POST", "/auth/login", body: Self.bytes(10))
        request.params.removeAll { $0.0 == "CONTENT_LENGTH" }
        request.params.append(("CONTENT_LENGTH", "500"))
        let echo = try Echo(try server.connect().send(request))
        #expect(echo.bodyLength == 10)
        #expect(!echo.isBodyTooLarge)
    }

    @Test func keptConnectionServesTheNextRequestAfterABody() throws {
        let client = try server.connect()
        for index in 0..<3 {
            let body = Self.bytes(100 + index)
            let echo = try Echo(try client.send(.nginx("POST", "/auth/login", body: body)))
            #expect(echo.body == body)
        }
    }

    @Test(arguments: [100, 0])
    func endOfStdinArrivingAfterTheBodyKeepsTheConnectionUsable(length: Int) throws {
        // nginx sends the closing empty STDIN record after the body; over TCP, or with
        // `fastcgi_request_buffering off`, it can arrive a little after the body. The server reads
        // the request to its end before answering, so the record never leaks into the next request.
        let client = try server.connect()
        var request = FastCGIRequest.nginx("POST", "/auth/login", body: Self.bytes(length))
        request.params.removeAll { $0.0 == "CONTENT_LENGTH" }
        request.params.append(("CONTENT_LENGTH", String(length)))
        request.sendsEndOfStdin = false
        let id = try client.post(request)
        usleep(100_000)  // the record arrives on its own, well after the body
        try client.sendEndOfStdin()
        #expect(try client.receive(id: id).status == 200)
        let next = try client.send(.nginx("GET", "/auth/next"))
        #expect(try Echo(next).path == "/next")
    }
}
