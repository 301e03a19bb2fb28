import Foundation
import TokenGateAuth
import TokenGateHTTP

/// The login body: JSON `{"username","password"}` or a form with the same fields and `rd`.
struct Credentials {
    let username: String
    let password: String
    let redirect: String?
    let isFormPost: Bool

    /// Parses the body by its media type.
    /// - Throws: `.unsupportedMediaType` or `.invalidRequest` with a message naming the problem.
    init(request: Request) throws {
        switch request.mediaType {
        case "application/json":
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                throw TokenGateError.invalidRequest("The body is not a JSON object.")
            }
            guard let username = object["username"] as? String, let password = object["password"] as? String else {
                throw TokenGateError.invalidRequest("`username` and `password` must be strings.")
            }
            self.init(username: username, password: password, redirect: nil, isFormPost: false)
        case "application/x-www-form-urlencoded":
            guard let fields = FormURLEncoding.decode(body: request.body) else {
                throw TokenGateError.invalidRequest("The form body is not valid UTF-8.")
            }
            func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
            self.init(
                username: field("username") ?? "", password: field("password") ?? "", redirect: field("rd"),
                isFormPost: true)
        default:
            throw TokenGateError.unsupportedMediaType("application/json or application/x-www-form-urlencoded")
        }
    }

    private init(username: String, password: String, redirect: String?, isFormPost: Bool) {
        self.username = username
        self.password = password
        self.redirect = redirect
        self.isFormPost = isFormPost
    }
}
