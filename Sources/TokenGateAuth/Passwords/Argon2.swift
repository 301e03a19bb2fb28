internal import CArgon2

/// The thin, blocking binding to libargon2's Argon2id functions. Callers run it on a `HashingPool` thread.
enum Argon2 {
    /// Hashes `password` with `salt` and `parameters` (already validated) into a PHC string.
    /// - Throws: `Argon2Failure` when libargon2 reports an error.
    static func hashEncoded(_ password: String, salt: [UInt8], parameters: Argon2Parameters) throws -> String {
        let t = UInt32(parameters.iterations)
        let m = UInt32(parameters.memoryKiB)
        let p = UInt32(parameters.parallelism)
        let hashLength = parameters.hashLength
        // Includes the terminating NUL.
        let encodedLength = argon2_encodedlen(t, m, p, UInt32(salt.count), UInt32(hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: encodedLength)
        let code = PasswordBytes.withTemporaryCopy(of: password) { pwd in
            salt.withUnsafeBytes { saltBytes in
                encoded.withUnsafeMutableBufferPointer { out in
                    argon2id_hash_encoded(
                        t, m, p, pwd.baseAddress, pwd.count, saltBytes.baseAddress, saltBytes.count,
                        hashLength, out.baseAddress, out.count)
                }
            }
        }
        guard code == ARGON2_OK.rawValue else { throw Argon2Failure(code: code) }
        let bytes = encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `password` matches the Argon2id PHC string `encoded`; libargon2 compares in constant time.
    /// - Throws: `Argon2Failure` for anything but a match or a mismatch (e.g. an undecodable string).
    static func verify(_ password: String, encoded: String) throws -> Bool {
        let code = encoded.withCString { encodedPointer in
            PasswordBytes.withTemporaryCopy(of: password) { pwd in
                argon2id_verify(encodedPointer, pwd.baseAddress, pwd.count)
            }
        }
        switch code {
        case ARGON2_OK.rawValue: return true
        case ARGON2_VERIFY_MISMATCH.rawValue: return false
        default: throw Argon2Failure(code: code)
        }
    }
}
