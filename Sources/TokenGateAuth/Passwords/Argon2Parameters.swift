/// Cost parameters of Argon2id, configured under `passwords.*`.
///
/// The defaults (19 MiB, 2 passes, 1 lane) are OWASP's recommended minimum for Argon2id.
///
/// ```swift
/// let parameters = Argon2Parameters(memoryKiB: 65_536, iterations: 3)
/// try parameters.validate()
/// ```
public struct Argon2Parameters: Sendable, Equatable, CustomStringConvertible {
    /// Memory per hash in KiB (`m`).
    public var memoryKiB: Int
    /// Number of passes over the memory (`t`).
    public var iterations: Int
    /// Number of lanes (`p`); libargon2 computes them on that many threads.
    public var parallelism: Int
    /// Bytes of random salt per hash.
    public var saltLength: Int
    /// Bytes of hash output.
    public var hashLength: Int

    /// The largest accepted memory cost: 4 GiB, in KiB.
    public static let maximumMemoryKiB = 4 * 1024 * 1024
    /// The largest accepted number of passes; more would make each login take many seconds.
    public static let maximumIterations = 1_000
    /// The accepted numbers of lanes.
    public static let parallelismRange = 1...16
    /// The accepted salt lengths in bytes (libargon2's minimum is 8).
    public static let saltLengthRange = 8...64
    /// The accepted hash lengths in bytes.
    public static let hashLengthRange = 16...64

    /// Creates parameters; every argument defaults to the recommended value.
    public init(
        memoryKiB: Int = 19_456, iterations: Int = 2, parallelism: Int = 1, saltLength: Int = 16, hashLength: Int = 32
    ) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.saltLength = saltLength
        self.hashLength = hashLength
    }

    /// Checks every value against libargon2's limits and tokengate's sanity caps.
    /// - Throws: `TokenGateError` `.invalidRequest` naming the first bad value and its accepted range.
    public func validate() throws {
        guard Self.parallelismRange.contains(parallelism) else {
            throw Self.invalid("passwords.parallelism", parallelism, "between 1 and 16")
        }
        let minimumMemory = 8 * parallelism
        guard (minimumMemory...Self.maximumMemoryKiB).contains(memoryKiB) else {
            throw Self.invalid(
                "passwords.memory", memoryKiB,
                "between \(minimumMemory) (8 KiB per lane) and \(Self.maximumMemoryKiB) (4 GiB)")
        }
        guard (1...Self.maximumIterations).contains(iterations) else {
            throw Self.invalid("passwords.iterations", iterations, "between 1 and \(Self.maximumIterations)")
        }
        guard Self.saltLengthRange.contains(saltLength) else {
            throw Self.invalid("passwords.saltLength", saltLength, "between 8 and 64 bytes")
        }
        guard Self.hashLengthRange.contains(hashLength) else {
            throw Self.invalid("passwords.hashLength", hashLength, "between 16 and 64 bytes")
        }
    }

    /// The parameters as they appear in a PHC string, e.g. `m=19456,t=2,p=1`.
    public var description: String { "m=\(memoryKiB),t=\(iterations),p=\(parallelism)" }

    private static func invalid(_ key: String, _ value: Int, _ expectation: String) -> TokenGateError {
        .invalidRequest("\(key) is \(value); it must be \(expectation).")
    }
}
