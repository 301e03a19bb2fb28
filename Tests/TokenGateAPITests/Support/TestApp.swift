import FastCGI
import Foundation
import Logging
import Testing
import TokenGateAPI
import TokenGateAuth
import TokenGateHTTP

@testable import TokenGateApp

/// The real application in-process: temporary SQLite, real Argon2id (tiny parameters), the real
/// route table behind an `APIResponder`, and a clock the test moves. No sockets, no mocks.
///
/// ```swift
/// let app = try await TestApp.make()
/// try await app.addUser("alice")
/// let response = await app.send(.json(.post, "/login", ["username": "alice", "password": TestApp.password]))
/// ```
final class TestApp: Sendable {
    /// The password every test user gets unless a test says otherwise.
    static let password = "correct horse battery staple"

    let directory: URL
    let clock: FixedClock
    let services: TokenGateServices
    let responder: APIResponder

    /// Settings by configuration key (`tokens.accessTTL`), on top of the test defaults.
    static func make(_ settings: [String: String] = [:]) async throws -> TestApp {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokengate-api-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let emptyFile = directory.appendingPathComponent("tokengate.conf").path
        _ = FileManager.default.createFile(atPath: emptyFile, contents: Data())
        var values = [
            "storage.directory": directory.appendingPathComponent("data").path,
            "passwords.memory": "64",
            "passwords.iterations": "1",
            "passwords.hashingThreads": "1",
            "http.loginPage": "/login.html",
        ]
        values.merge(settings) { $1 }
        let configuration = try TokenGateConfiguration(environment: try environment(values), file: emptyFile)
        let clock = FixedClock()
        let services = try await TokenGateServices(configuration: configuration, logger: .silent, clock: clock)
        let responder = APIResponder(
            endpoints: TokenGateApplication.endpoints(services), maxBodySize: configuration.fastCGI.maxBodySize,
            logger: .silent)
        return TestApp(directory: directory, clock: clock, services: services, responder: responder)
    }

    private init(directory: URL, clock: FixedClock, services: TokenGateServices, responder: APIResponder) {
        self.directory = directory
        self.clock = clock
        self.services = services
        self.responder = responder
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Environment variables for configuration keys, named the way the app derives them.
    static func environment(_ values: [String: String]) throws -> [String: String] {
        var environment: [String: String] = [:]
        for (name, value) in values {
            guard let key = ConfigurationKey.named(name) else {
                throw ConfigurationError(key: name, problem: "the tests use a key the app does not know")
            }
            environment[key.environmentName] = value
        }
        return environment
    }

    /// Creates a user through the same service as `tokengate user add`.
    @discardableResult
    func addUser(
        _ username: String, password: String = TestApp.password, name: String? = nil, roles: [String] = ["staff"]
    ) async throws -> User {
        try await services.users.add(username: username, name: name, roles: roles, password: password, at: clock.now)
    }

    /// Sends a request through the router, as the FastCGI transport would.
    func send(_ request: Request) async -> Response {
        await responder.respond(to: request)
    }

    /// Logs in with JSON and returns the tokens.
    func login(_ username: String, password: String = TestApp.password, address: String = "127.0.0.1")
        async throws -> Session
    {
        var request = Request.json(.post, "/login", ["username": username, "password": password])
        request.remoteAddress = address
        let response = await send(request)
        try #require(response.status.code == 200, "login of \(username) answered \(response.status)")
        return try Session(response)
    }

    /// What a login or refresh handed to the browser.
    struct Session {
        let access: String
        let refresh: String
        let response: Response

        init(_ response: Response) throws {
            self.response = response
            access = try #require(response.cookieValue("__Host-access"))
            refresh = try #require(response.cookieValue("__Secure-refresh"))
        }

        /// `Authorization: Bearer <access>`.
        var bearer: Headers { Headers([("Authorization", "Bearer \(access)")]) }
        /// `Cookie: __Secure-refresh=<refresh>`.
        var refreshCookie: Headers { Headers([("Cookie", "__Secure-refresh=\(refresh)")]) }
        /// `Cookie: __Host-access=<access>`.
        var accessCookie: Headers { Headers([("Cookie", "__Host-access=\(access)")]) }
    }
}

extension Logger {
    /// A logger that drops everything.
    static var silent: Logger {
        Logger(label: "tokengate.tests.api") { _ in SwiftLogNoOpLogHandler() }
    }
}
