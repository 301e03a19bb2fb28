import Foundation
import Testing
import TokenGateHTTP

extension Request {
    /// A JSON request (`Content-Type: application/json`).
    static func json(_ method: Method, _ path: String, _ object: [String: Any], headers: Headers = Headers())
        -> Request
    {
        let body = (try? JSONSerialization.data(withJSONObject: object)).map(Array.init) ?? []
        return .raw(method, path, body: body, contentType: "application/json", headers: headers)
    }

    /// A form post (`application/x-www-form-urlencoded`).
    static func form(_ path: String, _ fields: [(String, String)], headers: Headers = Headers()) -> Request {
        .raw(
            .post, path, body: Array(FormURLEncoding.encode(fields).utf8),
            contentType: "application/x-www-form-urlencoded", headers: headers)
    }

    /// A request with a body of the given content type.
    static func raw(
        _ method: Method, _ path: String, query: String = "", body: [UInt8] = [], contentType: String? = nil,
        headers: Headers = Headers()
    ) -> Request {
        var headers = headers
        if let contentType { headers.add("Content-Type", contentType) }
        return Request(method: method, path: path, query: query, headers: headers, body: body)
    }

    /// A bodiless request.
    static func get(_ path: String, query: String = "", headers: Headers = Headers()) -> Request {
        Request(method: .get, path: path, query: query, headers: headers)
    }

    /// A POST without a body.
    static func post(_ path: String, query: String = "", headers: Headers = Headers()) -> Request {
        Request(method: .post, path: path, query: query, headers: headers)
    }
}

extension Headers {
    /// These fields plus `more`.
    func adding(_ more: [(String, String)]) -> Headers {
        var copy = self
        for (name, value) in more { copy.add(name, value) }
        return copy
    }
}

extension Response {
    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// The contract's error code, `{"error": "<code>", ...}`.
    var errorCode: String? { json["error"] as? String }

    /// Every `Set-Cookie` value.
    var setCookies: [String] { headers.all("Set-Cookie") }

    /// The `Set-Cookie` value for the cookie `name`.
    func setCookie(_ name: String) -> String? {
        setCookies.first { $0.hasPrefix(name + "=") }
    }

    /// The value a `Set-Cookie` gives the cookie `name`.
    func cookieValue(_ name: String) -> String? {
        guard let header = setCookie(name) else { return nil }
        return String(header.dropFirst(name.count + 1).prefix { $0 != ";" })
    }

    /// The `Location` header, parsed into path and decoded query items.
    var location: String? { headers["Location"] }

    /// A query parameter of the `Location` header.
    func locationQueryValue(_ name: String) -> String? {
        guard let location, let query = location.split(separator: "?", maxSplits: 1).dropFirst().first else {
            return nil
        }
        return FormURLEncoding.decode(String(query)).first { $0.name == name }?.value
    }
}

/// The two `Set-Cookie` values that clear the session cookies (DESIGN §3).
enum ClearedCookies {
    static let access = "__Host-access=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
    static let refresh = "__Secure-refresh=; Path=/auth; Max-Age=0; Secure; HttpOnly; SameSite=Lax"

    /// Whether `response` clears both cookies exactly.
    static func areSet(on response: Response) -> Bool {
        response.setCookies.sorted() == [access, refresh].sorted()
    }
}
