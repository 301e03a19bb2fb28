public import Foundation

/// An account that can log in.
public struct User: Sendable, Equatable {
    /// A stable, opaque identifier (a UUID string); the `sub` claim.
    public var id: String
    /// The canonical (lowercased) username; unique.
    public var username: String
    /// The display name.
    public var name: String
    /// Role names, e.g. `["admin"]`.
    public var roles: [String]
    /// The Argon2id hash in PHC string format.
    public var passwordHash: String
    public var isDisabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String = UUID().uuidString.lowercased(), username: String, name: String, roles: [String],
        passwordHash: String, isDisabled: Bool = false, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.username = username
        self.name = name
        self.roles = roles
        self.passwordHash = passwordHash
        self.isDisabled = isDisabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Usernames are case-insensitive: they are stored and compared in this canonical form.
public enum Username {
    /// The longest accepted username, in characters.
    public static let maxLength = 64

    /// Normalises (NFC), lowercases and trims a username. Returns `nil` for empty, too long, or control characters.
    public static func canonical(_ raw: String) -> String? {
        // NFC first: "é" typed as one code point or as "e" + combining accent is one account.
        let trimmed = raw.precomposedStringWithCanonicalMapping.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty, trimmed.count <= maxLength,
            !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return nil }
        return trimmed
    }
}

/// Role names: lowercase letters, digits, `-`, `_`, `.`, `:`; 1 to 64 characters.
public enum RoleName {
    /// Whether `role` is a valid role name.
    public static func isValid(_ role: String) -> Bool {
        !role.isEmpty && role.count <= 64
            && role.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)
            }
    }
}
