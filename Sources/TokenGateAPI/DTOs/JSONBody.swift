import Foundation
import TokenGateHTTP

/// JSON encoding for response bodies.
enum JSONBody {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// A 200 JSON response that must not be cached.
    static func noStore(_ value: some Encodable, status: Status = .ok) throws -> Response {
        var headers = Headers()
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        return .json(status, try encode(value), headers: headers)
    }
}
