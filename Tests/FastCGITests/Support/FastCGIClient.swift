import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal FastCGI client (the web-server side of the protocol), enough to drive a real
/// `FastCGIServer` the way nginx does: one request at a time on a connection, optionally kept alive.
///
/// ```swift
/// let client = try FastCGIClient(unixPath: "/tmp/tg-1234.sock")
/// let response = try client.send(FastCGIRequest(params: ["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/auth/healthz"]))
/// ```
final class FastCGIClient {
    enum RecordType: UInt8 {
        case beginRequest = 1
        case abortRequest = 2
        case endRequest = 3
        case params = 4
        case stdin = 5
        case stdout = 6
        case stderr = 7
    }

    /// Something the server did that a client cannot continue from.
    struct ProtocolFailure: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var fd: Int32
    private var nextRequestID: UInt16 = 1

    /// Connects to a unix socket; reads and writes time out after `timeout` seconds so a test never hangs.
    /// - Parameter minimumDescriptor: move the client's descriptor to this number or above, so the
    ///   server (in the same process) gets the lowest free numbers, as it would on its own.
    init(unixPath: String, timeout: Int = 5, minimumDescriptor: Int32? = nil) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProtocolFailure(description: "socket: errno \(errno)") }
        if let minimumDescriptor {
            // Before connecting, so the low number is free again when the server accepts.
            let moved = fcntl(fd, F_DUPFD_CLOEXEC, minimumDescriptor)
            _ = Glibc.close(fd)
            guard moved >= 0 else { throw ProtocolFailure(description: "F_DUPFD: errno \(errno)") }
            fd = moved
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: unixPath.utf8)
            buffer[unixPath.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw ProtocolFailure(description: "connect \(unixPath): errno \(code)")
        }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close()
    }

    /// Closes the connection (as nginx does when it drops a kept connection).
    func close() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
    }

    /// Sends one request and reads its STDOUT until END_REQUEST. Like nginx, the records of a
    /// request go out in one write.
    func send(_ request: FastCGIRequest) throws -> FastCGIResponse {
        try receive(id: try post(request))
    }

    /// Writes one request without waiting for its response; returns its request id.
    func post(_ request: FastCGIRequest) throws -> UInt16 {
        let id = nextRequestID
        nextRequestID &+= 1
        var bytes = record(.beginRequest, id: id, content: [0, 1, request.keepConnection ? 1 : 0, 0, 0, 0, 0, 0])
        let params = Self.encodeParams(request.params)
        for chunk in Self.chunks(params, size: request.paramsChunkSize) {
            bytes += record(.params, id: id, content: chunk)
        }
        bytes += record(.params, id: id, content: [])
        for chunk in Self.chunks(request.body, size: request.stdinChunkSize) {
            bytes += record(.stdin, id: id, content: chunk)
        }
        if request.sendsEndOfStdin {
            bytes += record(.stdin, id: id, content: [])
        }
        try write(bytes)
        return id
    }

    /// Reads the response to request `id` (sent with `post`).
    func receive(id: UInt16) throws -> FastCGIResponse {
        try readResponse(id: id)
    }

    /// Sends the empty STDIN record that ends the body of the previous request, for requests
    /// sent with `sendsEndOfStdin` off.
    func sendEndOfStdin() throws {
        try write(record(.stdin, id: nextRequestID &- 1, content: []))
    }

    /// Whether the server closed the connection: the next read returns end-of-file
    /// (as opposed to blocking until `within` seconds pass).
    func isClosedByServer(within seconds: Double = 2) -> Bool {
        let whole = Int(seconds)
        var limit = timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    // MARK: - Encoding

    /// FastCGI name-value pairs: lengths below 128 take one byte, longer ones four (high bit set).
    static func encodeParams(_ params: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (name, value) in params {
            appendLength(name.utf8.count, to: &bytes)
            appendLength(value.utf8.count, to: &bytes)
            bytes += Array(name.utf8)
            bytes += Array(value.utf8)
        }
        return bytes
    }

    private static func appendLength(_ length: Int, to bytes: inout [UInt8]) {
        if length < 128 {
            bytes.append(UInt8(length))
        } else {
            bytes += [
                UInt8((length >> 24) & 0x7F) | 0x80, UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF),
                UInt8(length & 0xFF),
            ]
        }
    }

    private static func chunks(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }

    private func record(_ type: RecordType, id: UInt16, content: [UInt8]) -> [UInt8] {
        precondition(content.count <= 65_535)
        let padding = (8 - content.count % 8) % 8
        var bytes: [UInt8] = [
            1, type.rawValue, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF),
            UInt8(padding), 0,
        ]
        bytes += content
        bytes += [UInt8](repeating: 0, count: padding)
        return bytes
    }

    // MARK: - I/O

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw ProtocolFailure(description: "write failed: errno \(errno)") }
            offset += written
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let received = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            guard received > 0 else {
                throw ProtocolFailure(description: received == 0 ? "connection closed" : "read failed: errno \(errno)")
            }
            filled += received
        }
        return bytes
    }

    private func readResponse(id: UInt16) throws -> FastCGIResponse {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        while true {
            let header = try readExactly(8)
            let type = header[1]
            let recordID = UInt16(header[2]) << 8 | UInt16(header[3])
            let length = Int(header[4]) << 8 | Int(header[5])
            let content = try readExactly(length)
            _ = try readExactly(Int(header[6]))
            guard recordID == id else {
                throw ProtocolFailure(description: "record for request \(recordID), expected \(id)")
            }
            switch RecordType(rawValue: type) {
            case .stdout: stdout += content
            case .stderr: stderr += content
            case .endRequest:
                let appStatus = Int(content[0]) << 24 | Int(content[1]) << 16 | Int(content[2]) << 8 | Int(content[3])
                return try FastCGIResponse(
                    stdout: stdout, stderr: stderr, appStatus: appStatus, protocolStatus: content[4])
            default: throw ProtocolFailure(description: "unexpected record type \(type)")
            }
        }
    }
}

/// What the test sends: params, body and how to frame them.
struct FastCGIRequest {
    var params: [(String, String)]
    var body: [UInt8] = []
    var keepConnection = true
    var paramsChunkSize = 65_535
    var stdinChunkSize = 65_535
    /// Whether the empty STDIN record that ends the body is sent.
    var sendsEndOfStdin = true

    init(_ params: [(String, String)], body: [UInt8] = [], keepConnection: Bool = true) {
        self.params = params
        self.body = body
        self.keepConnection = keepConnection
    }

    /// A request as nginx's `fastcgi_params` would describe it.
    static func nginx(
        _ method: String = "GET", _ uri: String, query: String = "", headers: [(String, String)] = [],
        body: [UInt8] = [], extra: [(String, String)] = [], keepConnection: Bool = true
    ) -> FastCGIRequest {
        var params: [(String, String)] = [
            ("REQUEST_METHOD", method), ("DOCUMENT_URI", uri), ("SCRIPT_NAME", uri), ("QUERY_STRING", query),
            ("REQUEST_URI", query.isEmpty ? uri : "\(uri)?\(query)"), ("REMOTE_ADDR", "192.0.2.7"),
            ("SERVER_PROTOCOL", "HTTP/1.1"), ("GATEWAY_INTERFACE", "CGI/1.1"),
        ]
        if !body.isEmpty { params.append(("CONTENT_LENGTH", String(body.count))) }
        for (name, value) in headers {
            params.append(("HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_"), value))
        }
        params += extra
        return FastCGIRequest(params, body: body, keepConnection: keepConnection)
    }
}

/// The CGI response a FastCGI server wrote to STDOUT, split into status, headers and body.
struct FastCGIResponse {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: [UInt8]
    let stderr: [UInt8]
    let appStatus: Int
    let protocolStatus: UInt8

    init(stdout: [UInt8], stderr: [UInt8], appStatus: Int, protocolStatus: UInt8) throws {
        self.stderr = stderr
        self.appStatus = appStatus
        self.protocolStatus = protocolStatus
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = stdout.indices.first(where: { stdout[$0...].starts(with: separator) }) else {
            throw FastCGIClient.ProtocolFailure(
                description: "no end of headers in \(String(decoding: stdout, as: UTF8.self))")
        }
        let head = String(decoding: stdout[..<end], as: UTF8.self)
        body = Array(stdout[(end + 4)...])
        var status = 200
        var headers: [(name: String, value: String)] = []
        for line in head.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "Status" {
                status = Int(value.prefix(3)) ?? 0
            } else {
                headers.append((name: name, value: value))
            }
        }
        self.status = status
        self.headers = headers
    }

    /// The first header named `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as a JSON object.
    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw FastCGIClient.ProtocolFailure(description: "body is not a JSON object")
        }
        return object
    }
}
