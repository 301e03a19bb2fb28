internal import Foundation

/// Argon2id password hashing through libargon2, run on a `HashingPool` so it never occupies the
/// cooperative thread pool and never exceeds the pool's concurrency bound.
///
/// ```swift
/// let pool = HashingPool()
/// let hasher = try Argon2idPasswordHasher(parameters: Argon2Parameters(), pool: pool)
/// let phc = try await hasher.hash("s3cret")       // "$argon2id$v=19$m=19456,t=2,p=1$…$…"
/// let ok = try await hasher.verify("s3cret", against: phc)
/// ```
public struct Argon2idPasswordHasher: PasswordHasher {
    /// The longest accepted password, in UTF-8 bytes; longer ones are rejected before any hashing.
    public static let maximumPasswordBytes = 1024
    /// The Argon2 version this hasher writes (`v=19`, i.e. 0x13).
    static let version = 0x13

    /// The parameters new hashes are made with and stored hashes are compared against.
    public let parameters: Argon2Parameters
    private let pool: HashingPool
    /// A well-formed hash with the current parameters that no password matches (random salt and output).
    private let dummyHash: String

    /// Creates a hasher.
    /// - Parameters:
    ///   - parameters: The cost parameters; validated here.
    ///   - pool: The threads all hashing and verification run on.
    /// - Throws: `TokenGateError` `.invalidRequest` when `parameters` are out of range.
    public init(parameters: Argon2Parameters = Argon2Parameters(), pool: HashingPool) throws {
        try parameters.validate()
        self.parameters = parameters
        self.pool = pool
        self.dummyHash = Self.makeDummyHash(parameters)
    }

    /// Hashes `password` with a fresh salt on the pool; see `PasswordHasher.hash(_:)`.
    public func hash(_ password: String) async throws -> String {
        try Self.checkLength(of: password)
        let parameters = parameters
        let salt = Self.randomBytes(parameters.saltLength)
        return try await pool.run {
            do {
                return try Argon2.hashEncoded(password, salt: salt, parameters: parameters)
            } catch {
                throw TokenGateError.internalError(underlying: error)
            }
        }
    }

    /// Checks `password` against an Argon2id PHC string with libargon2's constant-time comparison.
    /// - Throws: `TokenGateError` `.internalError` (underlying `Argon2Failure`) when `phc` is malformed,
    ///   uses another algorithm or has costs outside `Argon2Parameters`' ranges; see also
    ///   `PasswordHasher.verify(_:against:)`.
    public func verify(_ password: String, against phc: String) async throws -> Bool {
        try Self.checkLength(of: password)
        try Self.checkStoredHash(phc)
        return try await pool.run {
            do {
                return try Argon2.verify(password, encoded: phc)
            } catch {
                throw TokenGateError.internalError(underlying: error)
            }
        }
    }

    /// Whether `phc` is not an Argon2id v19 hash with exactly the current parameters (including salt and
    /// hash lengths), or cannot be parsed.
    public func needsRehash(_ phc: String) -> Bool {
        guard let stored = Argon2PHCString(parsing: phc) else { return true }
        return stored.algorithm != "argon2id" || stored.version != Self.version
            || stored.parameters != parameters
    }

    /// Verifies `password` against a hash with the current parameters that nothing matches.
    public func verifyDummy(_ password: String) async throws {
        _ = try await verify(password, against: dummyHash)
    }

    private static func checkLength(of password: String) throws {
        guard password.utf8.count <= maximumPasswordBytes else {
            throw TokenGateError.invalidRequest("The password is too long.")
        }
    }

    /// Refuses stored hashes libargon2 should not see: unparseable, another algorithm, an unknown version,
    /// or costs outside `Argon2Parameters`' ranges (a corrupted `m` could otherwise allocate gigabytes).
    private static func checkStoredHash(_ phc: String) throws {
        guard let stored = Argon2PHCString(parsing: phc) else {
            throw TokenGateError.internalError(underlying: Argon2Failure.malformedHash("not an Argon2 PHC string"))
        }
        guard stored.algorithm == "argon2id" else {
            throw TokenGateError.internalError(underlying: Argon2Failure.malformedHash("algorithm \(stored.algorithm)"))
        }
        // libargon2 treats any version other than 0x10 as 0x13; refuse what it never wrote.
        guard stored.version == 0x10 || stored.version == version else {
            throw TokenGateError.internalError(underlying: Argon2Failure.malformedHash("version \(stored.version)"))
        }
        do {
            try stored.parameters.validate()
        } catch {
            throw TokenGateError.internalError(underlying: Argon2Failure.malformedHash("\(error)"))
        }
    }

    private static func makeDummyHash(_ parameters: Argon2Parameters) -> String {
        let salt = base64(randomBytes(parameters.saltLength))
        let output = base64(randomBytes(parameters.hashLength))
        return "$argon2id$v=\(version)$\(parameters)$\(salt)$\(output)"
    }

    private static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// Standard base64 without padding, as PHC strings use.
    private static func base64(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }
}
