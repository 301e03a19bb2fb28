/// The fields of an Argon2 hash in PHC string format: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// Parsing is strict (the layout libargon2 writes) and never traps: anything else yields `nil`.
struct Argon2PHCString: Equatable {
    /// `argon2id`, `argon2i` or `argon2d`.
    var algorithm: String
    /// `0x13` (19) for current hashes; `0x10` when the `v=` field is absent.
    var version: Int
    var memoryKiB: Int
    var iterations: Int
    var parallelism: Int
    /// Decoded byte lengths of the salt and hash fields.
    var saltLength: Int
    var hashLength: Int

    /// The cost parameters of this hash, for range checks.
    var parameters: Argon2Parameters {
        Argon2Parameters(
            memoryKiB: memoryKiB, iterations: iterations, parallelism: parallelism,
            saltLength: saltLength, hashLength: hashLength)
    }

    init?(parsing text: String) {
        // A stored hash is short; refuse to split anything absurdly long.
        guard text.utf8.count <= 512 else { return nil }
        var fields = text.split(separator: "$", omittingEmptySubsequences: false)[...]
        guard fields.popFirst() == "" else { return nil }
        guard let algorithm = fields.popFirst(), ["argon2id", "argon2i", "argon2d"].contains(algorithm) else {
            return nil
        }
        self.algorithm = String(algorithm)
        if let field = fields.first, field.hasPrefix("v=") {
            guard let version = Self.number(field.dropFirst(2)) else { return nil }
            self.version = version
            fields.removeFirst()
        } else {
            self.version = 0x10
        }
        guard fields.count == 3, let costs = Self.costs(fields[fields.startIndex]) else { return nil }
        (memoryKiB, iterations, parallelism) = costs
        guard let salt = Self.base64Length(fields[fields.startIndex + 1]),
            let hash = Self.base64Length(fields[fields.startIndex + 2])
        else { return nil }
        saltLength = salt
        hashLength = hash
    }

    /// Parses `m=<int>,t=<int>,p=<int>` in that order.
    private static func costs(_ field: Substring) -> (Int, Int, Int)? {
        let parts = field.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].hasPrefix("m="), parts[1].hasPrefix("t="), parts[2].hasPrefix("p="),
            let m = number(parts[0].dropFirst(2)), let t = number(parts[1].dropFirst(2)),
            let p = number(parts[2].dropFirst(2))
        else { return nil }
        return (m, t, p)
    }

    /// A decimal that fits `UInt32`, digits only (no sign, no leading zero).
    private static func number(_ digits: Substring) -> Int? {
        guard (1...10).contains(digits.utf8.count), digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            digits == "0" || digits.utf8.first != 0x30, let value = UInt32(digits)
        else { return nil }
        return Int(value)
    }

    /// The decoded length of unpadded standard base64, or `nil` if `field` is not such base64.
    private static func base64Length(_ field: Substring) -> Int? {
        let count = field.utf8.count
        guard count > 0, count % 4 != 1, field.utf8.allSatisfy(isBase64) else { return nil }
        return count * 3 / 4
    }

    private static func isBase64(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2B, 0x2F: true
        default: false
        }
    }
}
