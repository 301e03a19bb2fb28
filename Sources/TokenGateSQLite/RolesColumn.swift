import Foundation

/// How `users.roles` is stored: a JSON array of strings.
enum RolesColumn {
    static func encode(_ roles: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(roles), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
