import Foundation
public import Logging
internal import NIOCore
internal import NIOSSL
internal import PostgresNIO
import Synchronization
import TokenGateAuth

/// One PostgreSQL database reached through a postgres-nio connection pool (`PostgresClient`).
///
/// Every store of this module shares one backend. The pool runs in a background task from `init`
/// until `shutdown()`.
///
/// ```swift
/// let backend = PostgresBackend(settings: settings, logger: logger)
/// _ = try await backend.migrate()
/// let users = PostgresUserStore(backend: backend)
/// ```
public final class PostgresBackend: Sendable {
    let client: PostgresClient
    let logger: Logger
    let settings: PostgresSettings
    private let runner: Task<Void, Never>

    /// Creates the pool; no connection is opened until the first query.
    public init(settings: PostgresSettings, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password,
            database: settings.database, tls: Self.tls(settings.tls))
        configuration.options.maximumConnections = settings.poolSize
        configuration.options.connectTimeout = settings.connectTimeout
        // DESIGN §4: a rotation is durable before its response is written, whatever the server's default.
        configuration.options.additionalStartupParameters = [
            ("application_name", "tokengate"), ("synchronous_commit", "on"),
        ]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.settings = settings
        runner = Task { await client.run() }
    }

    /// Closes every connection.
    public func shutdown() {
        runner.cancel()
    }

    private static func tls(_ mode: PostgresSettings.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Leases a connection for `body`, failing with `.unavailable` when none is ready within the
    /// connect timeout (PostgreSQL down or the pool exhausted), and translating driver errors.
    ///
    /// `body` runs in a child task, which keeps the caller's task executor: on a FastCGI worker
    /// thread when called from a request.
    func withConnection<T: Sendable>(
        conflictMessage: String = PostgresErrorTranslation.defaultConflictMessage,
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let client = self.client
        let timeout = settings.connectTimeout
        do {
            return try await withoutActuallyEscaping(body) { body in
                try await withThrowingTaskGroup(of: T?.self) { group in
                    let leased = LeaseFlag()
                    group.addTask {
                        try await client.withConnection { connection in
                            leased.set()
                            return try await body(connection)
                        }
                    }
                    group.addTask {
                        try? await Task.sleep(for: timeout)
                        return nil
                    }
                    while let next = try await group.next() {
                        if let value = next {
                            group.cancelAll()
                            return value
                        }
                        if !leased.isSet {
                            group.cancelAll()
                            throw TokenGateError.unavailable("The database is unreachable.")
                        }
                    }
                    throw PostgresStoreFailure("The connection task ended without a result.")
                }
            }
        } catch {
            throw PostgresErrorTranslation.translate(error, conflictMessage: conflictMessage)
        }
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on one leased connection; rolls back when it throws.
    func inTransaction<T: Sendable>(
        conflictMessage: String = PostgresErrorTranslation.defaultConflictMessage,
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await withConnection(conflictMessage: conflictMessage) { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Runs one statement on a pooled connection and returns its rows.
    func query(_ query: PostgresQuery, conflictMessage: String = PostgresErrorTranslation.defaultConflictMessage)
        async throws -> PostgresQueryResult
    {
        let logger = self.logger
        return try await withConnection(conflictMessage: conflictMessage) { connection in
            let result: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
            return try await result.get()
        }
    }

    /// Runs a trivial query, for `/healthz`.
    public func ping() async throws {
        _ = try await query("SELECT 1")
    }
}

/// Set once the pool has handed out the connection, so the timeout no longer applies.
private final class LeaseFlag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() {
        value.withLock { $0 = true }
    }
}

extension PostgresConnection {
    /// Runs `query` and waits for all its rows, blocking the calling thread.
    ///
    /// Only for `PostgresSessionStore.transaction`, whose body is synchronous: it runs on a FastCGI
    /// worker thread (or the CLI's task), never on a NIO event loop — `wait()` traps if it ever did.
    func blockingQuery(_ query: PostgresQuery, logger: Logger) throws -> PostgresQueryResult {
        let result: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try result.wait()
    }

    /// Runs `query` and collects its rows.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }
}
