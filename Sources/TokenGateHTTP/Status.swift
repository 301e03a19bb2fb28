/// An HTTP status code with its reason phrase.
public struct Status: Sendable, Hashable, CustomStringConvertible {
    /// The numeric code, e.g. `404`.
    public let code: Int

    /// Creates a status from its numeric code.
    public init(_ code: Int) {
        self.code = code
    }

    public static let ok = Status(200)
    public static let noContent = Status(204)
    public static let seeOther = Status(303)
    public static let badRequest = Status(400)
    public static let unauthorized = Status(401)
    public static let forbidden = Status(403)
    public static let notFound = Status(404)
    public static let methodNotAllowed = Status(405)
    public static let payloadTooLarge = Status(413)
    public static let unsupportedMediaType = Status(415)
    public static let tooManyRequests = Status(429)
    public static let internalServerError = Status(500)
    public static let serviceUnavailable = Status(503)

    /// The reason phrase sent on the `Status:` line.
    public var reasonPhrase: String {
        switch code {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status \(code)"
        }
    }

    public var description: String { "\(code) \(reasonPhrase)" }
}
