import Foundation
import TokenGateHTTP

/// Answers every request with the `Request` the transport built, as JSON.
struct EchoResponder: Responder {
    func respond(to request: Request) async -> Response {
        let object: [String: Any] = [
            "method": request.method.rawValue,
            "path": request.path ?? NSNull(),
            "query": request.query,
            "headers": request.headers.map { [$0.name, $0.value] },
            "remoteAddress": request.remoteAddress,
            "isHTTPS": request.isHTTPS,
            "params": request.params,
            "bodyLength": request.body.count,
            "body": Data(request.body).base64EncodedString(),
            "isBodyTooLarge": request.isBodyTooLarge,
        ]
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .json(.ok, Array(body))
    }
}

/// The JSON `EchoResponder` wrote, decoded for assertions.
struct Echo {
    let method: String
    let path: String?
    let query: String
    let headers: [(name: String, value: String)]
    let remoteAddress: String
    let isHTTPS: Bool
    let params: [String: String]
    let body: [UInt8]
    let bodyLength: Int
    let isBodyTooLarge: Bool

    init(_ response: FastCGIResponse) throws {
        let object = try response.json()
        method = object["method"] as? String ?? ""
        path = object["path"] as? String
        query = object["query"] as? String ?? ""
        headers = (object["headers"] as? [[String]] ?? []).map { (name: $0[0], value: $0[1]) }
        remoteAddress = object["remoteAddress"] as? String ?? ""
        isHTTPS = object["isHTTPS"] as? Bool ?? false
        params = object["params"] as? [String: String] ?? [:]
        body = Array(Data(base64Encoded: object["body"] as? String ?? "") ?? Data())
        bodyLength = object["bodyLength"] as? Int ?? -1
        isBodyTooLarge = object["isBodyTooLarge"] as? Bool ?? false
    }

    /// Every value of the header `name` (exact spelling, as the transport produced it).
    func header(_ name: String) -> [String] {
        headers.filter { $0.name == name }.map(\.value)
    }
}
