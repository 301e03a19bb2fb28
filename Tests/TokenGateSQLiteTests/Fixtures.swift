import Foundation
import TokenGateAuth
import TokenGateSQLite

/// Shared test data. Dates are whole seconds after a fixed epoch, so they round-trip exactly.
enum Fixtures {
    static let epoch = Date(timeIntervalSince1970: 1_750_000_000)

    /// `seconds` after the fixed epoch.
    static func at(_ seconds: TimeInterval) -> Date {
        epoch.addingTimeInterval(seconds)
    }

    static func user(_ username: String, id: String = UUID().uuidString.lowercased(), roles: [String] = ["staff"])
        -> User
    {
        User(
            id: id, username: username, name: "Name of \(username)", roles: roles,
            passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", createdAt: at(0), updatedAt: at(0))
    }

    static func session(
        _ id: String, userID: String, createdAt: TimeInterval = 0, idleExpiresAt: TimeInterval = 3_600,
        absoluteExpiresAt: TimeInterval = 86_400
    ) -> Session {
        Session(
            id: id, userID: userID, createdAt: at(createdAt), lastUsedAt: at(createdAt),
            idleExpiresAt: at(idleExpiresAt), absoluteExpiresAt: at(absoluteExpiresAt),
            clientAddress: "192.0.2.10", userAgent: "TestAgent/1.0")
    }

    static func token(_ hash: String, sessionID: String, issuedAt: TimeInterval = 0) -> RefreshTokenRecord {
        RefreshTokenRecord(hash: hash, sessionID: sessionID, issuedAt: at(issuedAt))
    }

    /// Inserts a user and returns it as stored.
    @discardableResult
    static func insertUser(_ username: String, into database: SQLiteDatabase) async throws -> User {
        let user = user(username)
        try await SQLiteUserStore(database: database).insert(user)
        return user
    }
}

/// Runs `body` with a fresh directory that is deleted afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tokengate-sqlite-tests-\(UUID().uuidString.lowercased())", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}
