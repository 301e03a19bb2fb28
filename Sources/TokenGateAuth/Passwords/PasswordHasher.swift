/// Hashes passwords into self-describing strings and checks passwords against them.
///
/// Every method bounds its input: passwords longer than the implementation's limit are rejected with
/// `TokenGateError` `.invalidRequest` before any hashing happens.
///
/// ```swift
/// let phc = try await hasher.hash("correct horse battery staple")
/// guard let user = try await users.user(username: name) else {
///     try await hasher.verifyDummy(password)   // same cost as a real check
///     throw TokenGateError.invalidCredentials()
/// }
/// guard try await hasher.verify(password, against: user.passwordHash) else {
///     throw TokenGateError.invalidCredentials()
/// }
/// if hasher.needsRehash(user.passwordHash) { /* store try await hasher.hash(password) */ }
/// ```
public protocol PasswordHasher: Sendable {
    /// Hashes `password` with a fresh random salt and the current parameters.
    /// - Returns: The hash in PHC string format, e.g. `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    /// - Throws: `TokenGateError` `.invalidRequest` for an over-long password, `.unavailable` when hashing
    ///   capacity is saturated, `.internalError` when the hashing library fails.
    func hash(_ password: String) async throws -> String

    /// Whether `password` matches the stored hash `phc`, compared in constant time.
    /// - Throws: `TokenGateError` `.invalidRequest` for an over-long password, `.unavailable` when hashing
    ///   capacity is saturated, `.internalError` when `phc` is malformed or the hashing library fails.
    func verify(_ password: String, against phc: String) async throws -> Bool

    /// Whether `phc` should be replaced by a fresh hash after the next successful login: it uses another
    /// algorithm, version or parameters than the current ones, or it cannot be parsed.
    func needsRehash(_ phc: String) -> Bool

    /// Pays the cost of one verification against a fixed dummy hash with the current parameters, so that
    /// an unknown user takes as long to reject as a wrong password. The result is discarded.
    /// - Throws: The same errors as `verify(_:against:)` for the same password.
    func verifyDummy(_ password: String) async throws
}
