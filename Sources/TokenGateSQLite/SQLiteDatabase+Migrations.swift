internal import GRDB

// Migrations are append-only: never edit one that has shipped, add the next `NNNN_verb_object`.
//
// Conventions, shared with the PostgreSQL backend to come:
// - Timestamps are UTC unix seconds with a fraction, declared `DOUBLE PRECISION` (SQLite gives it
//   REAL affinity; PostgreSQL reads the same text as float8, where plain `REAL` would be float4).
// - Booleans are `INTEGER` 0/1. Roles are a JSON array of strings in `TEXT`.
// - SQLite-only spellings, to translate for PostgreSQL: `COLLATE NOCASE` (there: a unique index on
//   `lower(username)`), `BLOB` (there: `BYTEA`), `INTEGER PRIMARY KEY AUTOINCREMENT` (there:
//   `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`).
extension SQLiteDatabase {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        for (identifier, sql) in migrations {
            migrator.registerMigration(identifier) { db in
                try db.execute(sql: sql)
            }
        }
        return migrator
    }()

    private static let migrations: [(String, String)] = [
        (
            "0001_create_users",
            """
            CREATE TABLE users (
                id TEXT NOT NULL PRIMARY KEY,
                username TEXT NOT NULL COLLATE NOCASE UNIQUE,
                name TEXT NOT NULL,
                roles TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                disabled INTEGER NOT NULL DEFAULT 0,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
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
                sealed_successor BLOB
            );
            CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
            """
        ),
        (
            "0004_create_throttle_counters",
            """
            CREATE TABLE throttle_counters (
                key TEXT NOT NULL PRIMARY KEY,
                failures INTEGER NOT NULL,
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
                id INTEGER PRIMARY KEY AUTOINCREMENT,
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
}
