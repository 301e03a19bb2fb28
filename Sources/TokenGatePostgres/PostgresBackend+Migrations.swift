internal import PostgresNIO

// Migrations are append-only: never edit one that has shipped, add the next `NNNN_verb_object`.
// They are the SQLite backend's migrations (same identifiers, tables, columns and indexes),
// translated as TokenGateSQLite/SQLiteDatabase+Migrations.swift lists: a unique index on
// `lower(username)` for `COLLATE NOCASE`, `BYTEA` for `BLOB`, an identity column for
// `AUTOINCREMENT`, `BIGINT` for `INTEGER` (so Swift `Int` binds without a cast).
extension PostgresBackend {
    /// Every migration this build knows, in order, with its SQL.
    static let migrations: [(String, String)] = [
        (
            "0001_create_users",
            """
            CREATE TABLE users (
                id TEXT NOT NULL PRIMARY KEY,
                username TEXT NOT NULL,
                name TEXT NOT NULL,
                roles TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                disabled BIGINT NOT NULL DEFAULT 0,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE UNIQUE INDEX users_username_idx ON users (lower(username));
            """
        ),
        (
            "0002_create_sessions",
            """
            CREATE TABLE sessions (
                id TEXT NOT NULL PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_at DOUBLE PRECISION NOT NULL,
                last_used_at DOUBLE PRECISION NOT NULL,
                idle_expires_at DOUBLE PRECISION NOT NULL,
                absolute_expires_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION,
                revoked_reason TEXT,
                client_address TEXT NOT NULL,
                user_agent TEXT NOT NULL
            );
            CREATE INDEX sessions_user_id_idx ON sessions (user_id);
            CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at);
            """
        ),
        (
            "0003_create_refresh_tokens",
            """
            CREATE TABLE refresh_tokens (
                hash TEXT NOT NULL PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
                issued_at DOUBLE PRECISION NOT NULL,
                spent_at DOUBLE PRECISION,
                successor_hash TEXT,
                sealed_successor BYTEA
            );
            CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
            """
        ),
        (
            "0004_create_throttle_counters",
            """
            CREATE TABLE throttle_counters (
                key TEXT NOT NULL PRIMARY KEY,
                failures BIGINT NOT NULL,
                last_failure_at DOUBLE PRECISION NOT NULL,
                locked_until DOUBLE PRECISION
            );
            CREATE INDEX throttle_counters_last_failure_at_idx ON throttle_counters (last_failure_at);
            """
        ),
        (
            "0005_create_audit_events",
            """
            CREATE TABLE audit_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                user_id TEXT,
                username TEXT,
                session_id TEXT,
                client_address TEXT,
                detail TEXT
            );
            CREATE INDEX audit_events_at_idx ON audit_events (at);
            """
        ),
    ]

    /// Every migration identifier this build knows, in order.
    public static var migrationIdentifiers: [String] { migrations.map(\.0) }

    /// An arbitrary constant: the advisory lock that serialises migrations of several nodes starting together.
    private static let migrationLock: Int64 = 0x746F_6B65_6E67_6174

    /// Applies pending migrations in one transaction and returns the identifiers it applied.
    ///
    /// Nodes that start at the same time wait for each other on an advisory lock, so each
    /// migration runs once.
    public func migrate() async throws -> [String] {
        try await inTransaction { connection in
            let logger = self.logger
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    identifier TEXT NOT NULL PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: Set<String> = []
            for try await identifier in try await connection.query(
                "SELECT identifier FROM schema_migrations", logger: logger
            ).decode(String.self) {
                applied.insert(identifier)
            }
            var done: [String] = []
            for (identifier, sql) in Self.migrations where !applied.contains(identifier) {
                // Each migration holds a few statements; the extended protocol takes one at a time.
                for statement in sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (identifier) VALUES (\(identifier))", logger: logger)
                done.append(identifier)
            }
            return done
        }
    }

    /// The identifier of the last applied migration, or `nil` for an empty database.
    public func schemaVersion() async throws -> String? {
        try await withConnection { connection in
            let logger = self.logger
            let exists = try await connection.query(
                "SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger
            ).decode(Bool.self)
            var hasTable = false
            for try await value in exists { hasTable = value }
            guard hasTable else { return nil }
            var applied: Set<String> = []
            for try await identifier in try await connection.query(
                "SELECT identifier FROM schema_migrations", logger: logger
            ).decode(String.self) {
                applied.insert(identifier)
            }
            return Self.migrationIdentifiers.last { applied.contains($0) }
        }
    }
}
