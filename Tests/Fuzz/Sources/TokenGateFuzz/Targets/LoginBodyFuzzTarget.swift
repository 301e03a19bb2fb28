import TokenGateAuth
import TokenGateHTTP

@testable import TokenGateAPI

/// Login bodies (`Credentials`): JSON and form bodies of any bytes, under any of several
/// content types. Only `invalid_request` or `unsupported_media_type` may be thrown; a JSON
/// body never yields a redirect or a form post; other media types are always refused.
struct LoginBodyFuzzTarget: FuzzTarget {
    static let name = "login-body"
    static let mediaTypes = [
        "application/json", "application/x-www-form-urlencoded", "Application/JSON; charset=utf-8",
        "application/x-www-form-urlencoded; charset=ISO-8859-1", "text/plain", "multipart/form-data; boundary=x",
        "application/json-patch+json", "",
    ]

    func run(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let contentType = Self.mediaTypes[Int(input.byte()) % Self.mediaTypes.count]
        var headers = Headers()
        if !contentType.isEmpty { headers.add("Content-Type", contentType) }
        let request = Request(method: .post, path: "/login", headers: headers, body: input.rest)
        let kind = request.mediaType
        do {
            let credentials = try Credentials(request: request)
            switch kind {
            case "application/json":
                FuzzCheck.require(!credentials.isFormPost && credentials.redirect == nil, "JSON read as a form")
            case "application/x-www-form-urlencoded":
                FuzzCheck.require(credentials.isFormPost, "form not marked as a form post")
            default:
                FuzzCheck.require(false, "accepted media type \(contentType.debugDescription)")
            }
        } catch let error as TokenGateError {
            let allowed: [TokenGateError.Code] = [.invalidRequest, .unsupportedMediaType]
            FuzzCheck.require(allowed.contains(error.code), "unexpected error code \(error.code.rawValue)")
            if error.code == .unsupportedMediaType {
                FuzzCheck.require(
                    kind != "application/json" && kind != "application/x-www-form-urlencoded",
                    "refused a supported media type")
            }
        } catch {
            FuzzCheck.require(false, "non-TokenGateError thrown: \(error)")
        }
    }
}
