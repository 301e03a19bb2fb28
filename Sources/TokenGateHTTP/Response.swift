/// An HTTP response: status, header fields (several `Set-Cookie` allowed) and body.
public struct Response: Sendable {
    public var status: Status
    public var headers: Headers
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Status, headers: Headers = Headers(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a JSON body (`Content-Type: application/json`).
    public static func json(_ status: Status, _ body: [UInt8], headers: Headers = Headers()) -> Response {
        var response = Response(status: status, headers: headers, body: body)
        response.headers["Content-Type"] = "application/json"
        return response
    }

    /// A `303 See Other` to `location`.
    public static func redirect(to location: String, headers: Headers = Headers()) -> Response {
        var response = Response(status: .seeOther, headers: headers)
        response.headers["Location"] = location
        return response
    }

    /// Adds a `Set-Cookie` field.
    public mutating func setCookie(_ cookie: SetCookie) {
        headers.add("Set-Cookie", cookie.headerValue)
    }

    /// The CGI-style response head and body as one byte buffer, ready for the FastCGI stdout stream.
    ///
    /// Header values are written as given; callers never put CR or LF into them (fields that
    /// contain either are dropped here as a last line of defence against header injection).
    public func serialized() -> [UInt8] {
        // Bytes appended to one buffer: String appends cost several hundred instructions each.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + body.count)
        func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
        append("Status: ")
        append(String(status.code))
        append(" ")
        append(status.reasonPhrase)
        append("\r\n")
        var hasContentLength = false
        for (name, value) in headers {
            guard Self.isSafeHeader(name: name, value: value) else { continue }
            if name.isEqualIgnoringASCIICase("Content-Length") { hasContentLength = true }
            append(name)
            append(": ")
            append(value)
            append("\r\n")
        }
        if !hasContentLength && status.code != 204 && status.code != 304 {
            append("Content-Length: ")
            append(String(body.count))
            append("\r\n")
        }
        append("\r\n")
        bytes.append(contentsOf: body)
        return bytes
    }

    private static func isSafeHeader(name: String, value: String) -> Bool {
        !name.isEmpty && !name.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: ":") || $0 >= 0x7F }
            && !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}
