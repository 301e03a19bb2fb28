internal import CFastCGI
import TokenGateHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Copies one FastCGI request out of libfcgi into a `Sendable` `Request`.
struct RequestReader: Sendable {
    let maxBodySize: Int
    let basePath: String

    /// Reads params and, if it fits the limit, the body. Reads nothing past the limit.
    func read(_ raw: UnsafeMutablePointer<FCGX_Request>) -> Request {
        var request = makeRequest(params: Self.params(raw.pointee.envp))
        let declared = request.params["CONTENT_LENGTH"].flatMap { Int($0) }
        if let declared, declared > maxBodySize || declared < 0 {
            request.isBodyTooLarge = true
        } else {
            let body = Self.readBody(raw.pointee.in, limit: min(declared ?? maxBodySize + 1, maxBodySize + 1))
            if body.count > maxBodySize {
                request.isBodyTooLarge = true
            } else {
                request.body = body
                // Read the request to its end (the empty STDIN record, and anything a peer sent
                // beyond CONTENT_LENGTH) before answering, as nginx expects: left unread, it would
                // be taken for the next request's first record on a kept connection.
                request.isBodyTooLarge = !Self.drain(raw.pointee.in, limit: 64 * 1024)
            }
        }
        return request
    }

    /// The request the params describe, without its body (pure: the fuzz target in
    /// `Tests/Fuzz` drives it with arbitrary params).
    func makeRequest(params: [String: String]) -> Request {
        var headers = Headers()
        for (name, value) in params {
            // nginx also sends Content-Length/Type as HTTP_*; the CGI params below are authoritative.
            if name.hasPrefix("HTTP_"), name != "HTTP_CONTENT_LENGTH", name != "HTTP_CONTENT_TYPE" {
                headers.add(Self.headerName(fromParam: name), value)
            }
        }
        if let type = params["CONTENT_TYPE"], !type.isEmpty { headers.add("Content-Type", type) }
        if let length = params["CONTENT_LENGTH"], !length.isEmpty { headers.add("Content-Length", length) }

        return Request(
            method: Method(rawValue: params["REQUEST_METHOD"] ?? "GET"),
            path: relativePath(params["DOCUMENT_URI"] ?? params["SCRIPT_NAME"] ?? ""),
            query: params["QUERY_STRING"] ?? "",
            headers: headers,
            remoteAddress: params["REMOTE_ADDR"] ?? "",
            isHTTPS: (params["HTTPS"] ?? "").lowercased() == "on",
            params: params
        )
    }

    /// Reads the rest of a stream until its end. Returns `false` if more than `limit` bytes were
    /// left (the caller then closes the connection instead of keeping it).
    static func drain(_ stream: UnsafeMutablePointer<FCGX_Stream>?, limit: Int) -> Bool {
        guard let stream else { return true }
        // Scratch space on the stack, never initialised: its bytes are discarded.
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { scratch in
            var total = 0
            while total <= limit {
                let count = FCGX_GetStr(scratch.baseAddress!, Int32(scratch.count), stream)
                // 0 at the end of the stream; an error (such as the receive timeout) means "not drained".
                if count <= 0 { return count == 0 && FCGX_GetError(stream) == 0 }
                total += Int(count)
            }
            return false
        }
    }

    /// `DOCUMENT_URI` relative to the base path, or `nil` when it lies outside it.
    func relativePath(_ documentURI: String) -> String? {
        let base = basePath == "/" ? "" : basePath
        guard documentURI.hasPrefix(base) else { return nil }
        let rest = documentURI.dropFirst(base.count)
        if rest.isEmpty { return "/" }
        return rest.hasPrefix("/") ? String(rest) : nil
    }

    /// `HTTP_X_AUTH_USER` → `x-auth-user`.
    static func headerName(fromParam name: String) -> String {
        // On bytes, not Characters: this runs for every header of every request.
        var bytes = Array(name.utf8.dropFirst(5))
        for index in bytes.indices {
            switch bytes[index] {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes[index] += 0x20
            case UInt8(ascii: "_"): bytes[index] = UInt8(ascii: "-")
            default: break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func params(_ envp: FCGX_ParamArray?) -> [String: String] {
        var result: [String: String] = [:]
        guard var cursor = envp else { return result }
        while let entry = cursor.pointee {
            if let pair = param(UnsafeRawBufferPointer(start: entry, count: strlen(entry))) {
                result[pair.name] = pair.value
            }
            cursor += 1
        }
        return result
    }

    /// One `NAME=VALUE` entry of libfcgi's param array; `nil` without `=`.
    static func param(_ bytes: some Collection<UInt8>) -> (name: String, value: String)? {
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let name = String(decoding: bytes[..<equals], as: UTF8.self)
        let value = String(decoding: bytes[bytes.index(after: equals)...], as: UTF8.self)
        return (name, value)
    }

    /// Reads up to `limit` bytes. The buffer is not zero-filled first (a body-less GET, such as
    /// every `/verify`, would otherwise clear `maxBodySize` bytes per request).
    private static func readBody(_ stream: UnsafeMutablePointer<FCGX_Stream>?, limit: Int) -> [UInt8] {
        guard let stream, limit > 0 else { return [] }
        let body = [UInt8](unsafeUninitializedCapacity: limit) { buffer, initializedCount in
            var filled = 0
            while filled < limit {
                let count = buffer.baseAddress!.advanced(by: filled).withMemoryRebound(
                    to: CChar.self, capacity: limit - filled
                ) { FCGX_GetStr($0, Int32(limit - filled), stream) }
                if count <= 0 { break }
                filled += Int(count)
            }
            initializedCount = filled
        }
        // Do not keep a `limit`-sized allocation alive for an empty body.
        return body.isEmpty ? [] : body
    }
}
