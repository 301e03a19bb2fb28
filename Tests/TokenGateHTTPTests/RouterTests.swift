import Testing
import TokenGateHTTP

@Suite struct RouterTests {
    var router: Router<String> {
        var router = Router<String>()
        router.add(.post, "/login", handler: "login")
        router.add(.get, "/me", handler: "me")
        router.add(.post, "/refresh", handler: "refresh-post")
        router.add(.get, "/refresh", handler: "refresh-get")
        return router
    }

    func handler(_ method: Method, _ path: String?) -> String? {
        if case .found(let handler) = router.resolve(method, path) { return handler }
        return nil
    }

    func allowed(_ method: Method, _ path: String?) -> [String]? {
        if case .methodNotAllowed(let allowed) = router.resolve(method, path) { return allowed.map(\.rawValue) }
        return nil
    }

    func isNotFound(_ method: Method, _ path: String?) -> Bool {
        if case .notFound = router.resolve(method, path) { return true }
        return false
    }

    @Test func methodAndPathFindTheHandler() {
        #expect(handler(.post, "/login") == "login")
        #expect(handler(.get, "/refresh") == "refresh-get")
        #expect(handler(.post, "/refresh") == "refresh-post")
    }

    @Test func wrongMethodListsTheAllowedOnes() {
        #expect(allowed(.get, "/login") == ["POST"])
        #expect(allowed(.delete, "/refresh") == ["POST", "GET", "HEAD"])
    }

    @Test func allowIncludesHeadForGetRoutes() {
        #expect(allowed(.post, "/me") == ["GET", "HEAD"])
    }

    @Test func headIsServedByTheGetHandler() {
        #expect(handler(.head, "/me") == "me")
        #expect(allowed(.head, "/login") == ["POST"])
    }

    @Test func anExplicitHeadRouteWins() {
        var router = Router<String>()
        router.add(.get, "/x", handler: "get")
        router.add(.head, "/x", handler: "head")
        guard case .found(let handler) = router.resolve(.head, "/x") else {
            Issue.record("HEAD not found")
            return
        }
        #expect(handler == "head")
        guard case .methodNotAllowed(let allowed) = router.resolve(.post, "/x") else {
            Issue.record("POST should be 405")
            return
        }
        #expect(allowed == [.get, .head])
    }

    @Test(arguments: ["/nope", "/login/", "/LOGIN", "login", "", "/me?x=1"])
    func unknownPathsAreNotFound(path: String) {
        #expect(isNotFound(.get, path))
        #expect(isNotFound(.post, path))
    }

    @Test func requestsOutsideTheBasePathAreNotFound() {
        #expect(isNotFound(.get, nil))
    }

    @Test func methodsAreCaseSensitive() {
        #expect(allowed(Method(rawValue: "post"), "/login") == ["POST"])
    }

    @Test func pathsAreListedSorted() {
        #expect(router.paths == ["/login", "/me", "/refresh"])
    }
}
