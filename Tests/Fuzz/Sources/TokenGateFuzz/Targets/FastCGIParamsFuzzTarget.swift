import TokenGateHTTP

@testable import FastCGI

/// Request construction from FastCGI params (`RequestReader.param`, `makeRequest(params:)`):
/// entries of any bytes make a request whose path is `nil` or `/`-relative, whose header names
/// are lowercase without `_`, and whose accessors (cookies, query, media type) never trap;
/// the router resolves any path without trapping.
struct FastCGIParamsFuzzTarget: FuzzTarget {
    static let name = "fastcgi-params"
    private let reader = RequestReader(maxBodySize: 16_384, basePath: "/auth")
    private let router: Router<Int> = {
        var router = Router<Int>()
        for (index, path) in ["/login", "/refresh", "/logout", "/me", "/verify", "/healthz"].enumerated() {
            router.add(index == 0 ? .post : .get, path, handler: index)
        }
        return router
    }()

    func run(_ data: [UInt8]) {
        var params: [String: String] = [:]
        for entry in FuzzInput(data).parts(separatedBy: 0) {
            if let param = RequestReader.param(entry) {
                let name = param.name
                FuzzCheck.require(!name.utf8.contains(UInt8(ascii: "=")), "name with =: \(name.debugDescription)")
                params[name] = param.value
            } else {
                FuzzCheck.require(!entry.contains(UInt8(ascii: "=")), "entry with = dropped")
            }
        }
        let request = reader.makeRequest(params: params)
        if let path = request.path {
            FuzzCheck.require(path.hasPrefix("/"), "path \(path.debugDescription) is not /-relative")
        }
        for field in request.headers where field.name != "Content-Type" && field.name != "Content-Length" {
            let name = field.name
            FuzzCheck.require(!name.contains("_"), "header name \(name.debugDescription)")
            FuzzCheck.require(
                !name.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }, "uppercase header name")
        }
        _ = request.cookies
        _ = request.queryItems
        _ = request.mediaType
        _ = router.resolve(request.method, request.path)
    }
}
