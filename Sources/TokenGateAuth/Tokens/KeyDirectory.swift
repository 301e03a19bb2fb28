public import Foundation

/// The directory of key files (`<kid>.json`, mode 0600; the directory 0700).
///
/// ```swift
/// let directory = KeyDirectory(path: "/var/lib/tokengate/keys")
/// let keys = try directory.loadOrCreate(now: Date())
/// ```
public struct KeyDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every key in the directory, sorted by creation date (oldest first).
    /// - Throws: `KeyFileError` naming the file that cannot be read.
    public func load(now: Date) throws -> [SigningKey] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return try names.filter { $0.hasSuffix(".json") }.sorted().map { name in
            let file = path + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else {
                throw KeyFileError("\(file): cannot be read")
            }
            do {
                return try SigningKey(fileContents: data, fallbackKid: String(name.dropLast(5)), now: now)
            } catch let error as KeyFileError {
                throw KeyFileError("\(file): \(error.description)")
            }
        }.sorted { $0.createdAt < $1.createdAt }
    }

    /// Loads the keys, creating a first signing key if none can sign.
    public func loadOrCreate(now: Date) throws -> [SigningKey] {
        var keys = try load(now: now)
        if !keys.contains(where: { $0.canSign && $0.retiredAt == nil }) {
            let key = SigningKey.generate(now: now)
            try save(key)
            keys.append(key)
        }
        return keys
    }

    /// Writes a key file atomically with mode 0600.
    public func save(_ key: SigningKey) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = path + "/" + key.kid + ".json"
        let temporary = file + ".tmp"
        let data = try key.fileContents()
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw KeyFileError("\(temporary): cannot be written") }
        guard rename(temporary, file) == 0 else { throw KeyFileError("\(file): cannot be written") }
    }

    /// Marks a key retired: it no longer signs or verifies.
    public func retire(kid: String, now: Date) throws {
        guard var key = try load(now: now).first(where: { $0.kid == kid }) else {
            throw KeyFileError("no key with kid `\(kid)`")
        }
        key.retiredAt = now
        try save(key)
    }
}
