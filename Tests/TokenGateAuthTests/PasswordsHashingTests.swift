import Foundation
import Testing
import TokenGateAuth

@Suite struct PasswordHashingTests {
    static let tiny = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)
    let pool = HashingPool(threadCount: 2)

    func makeHasher(_ parameters: Argon2Parameters = tiny) throws -> Argon2idPasswordHasher {
        try Argon2idPasswordHasher(parameters: parameters, pool: pool)
    }

    @Test(arguments: [
        Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1),
        Argon2Parameters(memoryKiB: 256, iterations: 2, parallelism: 2),
    ])
    func hashIsArgon2idPHCStringThatVerifies(parameters: Argon2Parameters) async throws {
        let hasher = try makeHasher(parameters)
        let phc = try await hasher.hash("correct horse battery staple")
        let m = parameters.memoryKiB, t = parameters.iterations, p = parameters.parallelism
        #expect(phc.hasPrefix("$argon2id$v=19$m=\(m),t=\(t),p=\(p)$"))
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
        try #require(fields.count == 6)
        #expect(fields[4].count == 22)  // 16 salt bytes, unpadded base64
        #expect(fields[5].count == 43)  // 32 hash bytes
        #expect(try await hasher.verify("correct horse battery staple", against: phc))
        #expect(!hasher.needsRehash(phc))
    }

    @Test func wrongPasswordDoesNotVerify() async throws {
        let hasher = try makeHasher()
        let phc = try await hasher.hash("s3cret")
        #expect(try await !hasher.verify("s3creT", against: phc))
        #expect(try await !hasher.verify("", against: phc))
        #expect(try await !hasher.verify("s3cret ", against: phc))
    }

    @Test func unicodeAndEmptyPasswordsRoundTrip() async throws {
        let hasher = try makeHasher()
        for password in ["pässwörd 🔑", "", "a\u{0}b"] {
            let phc = try await hasher.hash(password)
            #expect(try await hasher.verify(password, against: phc))
        }
        let withNul = try await hasher.hash("a\u{0}b")
        #expect(try await !hasher.verify("a", against: withNul))
    }

    @Test func eachHashUsesAFreshSalt() async throws {
        let hasher = try makeHasher()
        let first = try await hasher.hash("same password")
        let second = try await hasher.hash("same password")
        #expect(first != second)
        let salt = { (phc: String) in phc.split(separator: "$", omittingEmptySubsequences: false)[4] }
        #expect(salt(first) != salt(second))
        #expect(try await hasher.verify("same password", against: first))
        #expect(try await hasher.verify("same password", against: second))
    }

    @Test func needsRehashOnlyWhenHashDiffersFromCurrentParameters() async throws {
        let hasher = try makeHasher()
        let current = try await hasher.hash("pw")
        #expect(!hasher.needsRehash(current))

        let older = try await makeHasher(Argon2Parameters(memoryKiB: 128, iterations: 1, parallelism: 1)).hash("pw")
        #expect(hasher.needsRehash(older))
        let moreIterations = try await makeHasher(Argon2Parameters(memoryKiB: 64, iterations: 2)).hash("pw")
        #expect(hasher.needsRehash(moreIterations))
        let moreLanes = try await makeHasher(Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 2)).hash("pw")
        #expect(hasher.needsRehash(moreLanes))
        let longerHash = try await makeHasher(Argon2Parameters(memoryKiB: 64, iterations: 1, hashLength: 64)).hash("pw")
        #expect(hasher.needsRehash(longerHash))

        let tail = current.dropFirst("$argon2id$v=19$".count)
        #expect(hasher.needsRehash("$argon2i$v=19$" + tail))
        #expect(hasher.needsRehash("$argon2d$v=19$" + tail))
        #expect(hasher.needsRehash("$argon2id$v=16$" + tail))
        #expect(hasher.needsRehash("$argon2id$" + tail))
        for garbage in ["", "garbage", "$2b$12$abcdefghijklmnopqrstuu", "$argon2id$v=19$m=64,t=1$c2FsdA$aGFzaA"] {
            #expect(hasher.needsRehash(garbage))
        }
    }

    @Test func verifyDummyRunsLikeAVerification() async throws {
        let hasher = try makeHasher()
        try await hasher.verifyDummy("whatever")
        try await hasher.verifyDummy("")
        await #expect(throws: TokenGateError.invalidRequest("")) {
            try await hasher.verifyDummy(String(repeating: "x", count: 1025))
        }
    }

    @Test func malformedStoredHashNeverTraps() async throws {
        let hasher = try makeHasher()
        let good = try await hasher.hash("pw")
        let fields = good.split(separator: "$", omittingEmptySubsequences: false)
        let (salt, output) = (fields[4], fields[5])
        let malformed = [
            "", "$", "$$$$$", "not a hash", "$argon2id", "$argon2id$v=19$m=64,t=1,p=1$$",
            String(good.dropLast(10)), good + "$extra", good.replacingOccurrences(of: "$", with: "%"),
            "$argon2id$v=19$m=64,t=1,p=1$\(salt)$!!!!!!!!", "$argon2id$v=19$m=64,t=1,p=1$@@@@@@@@$\(output)",
            "$argon2id$v=19$m=4294967295,t=1,p=1$\(salt)$\(output)",  // 4 TiB: refused before libargon2
            "$argon2id$v=19$m=64,t=4294967295,p=1$\(salt)$\(output)",
            "$argon2id$v=19$m=64,t=1,p=255$\(salt)$\(output)",
            "$argon2id$v=19$m=64,t=0,p=1$\(salt)$\(output)",
            "$argon2id$v=19$m=-64,t=1,p=1$\(salt)$\(output)",
            "$argon2id$v=19$m=99999999999999999999,t=1,p=1$\(salt)$\(output)",
            "$argon2id$v=99$m=64,t=1,p=1$\(salt)$\(output)",
            "$argon2i$v=19$m=64,t=1,p=1$\(salt)$\(output)",
            "$argon2id$v=19$m=64,t=1,p=1$QQ$\(output)",  // salt below libargon2's minimum
        ]
        for phc in malformed {
            do {
                let matched = try await hasher.verify("pw", against: phc)
                #expect(!matched, "matched \(phc)")
            } catch let error as TokenGateError {
                #expect(error.code == .internalError, "\(phc): \(error)")
                #expect(error.underlying is Argon2Failure, "\(phc): \(error.debugDescription)")
            }
        }
    }

    @Test func libargon2FailuresAreWrappedAsInternalErrors() async throws {
        let hasher = try makeHasher()
        let good = try await hasher.hash("pw")
        // Valid base64 length, but non-zero trailing bits: only libargon2's decoder notices.
        let badTrailingBits = good.dropLast() + "B"
        let error = await #expect(throws: TokenGateError.self) {
            try await hasher.verify("pw", against: String(badTrailingBits))
        }
        #expect(error?.code == .internalError)
        let failure = try #require(error?.underlying as? Argon2Failure)
        #expect(failure.code < 0)
        #expect(!failure.message.isEmpty)
    }

    @Test func tooLongPasswordIsRejectedBeforeHashing() async throws {
        let hasher = try makeHasher()
        let longest = String(repeating: "x", count: Argon2idPasswordHasher.maximumPasswordBytes)
        let phc = try await hasher.hash(longest)
        #expect(try await hasher.verify(longest, against: phc))

        let tooLong = longest + "x"
        let multiByte = String(repeating: "é", count: 513)  // 1026 UTF-8 bytes
        for password in [tooLong, multiByte] {
            let error = await #expect(throws: TokenGateError.self) { try await hasher.hash(password) }
            #expect(error?.code == .invalidRequest)
            #expect(error?.message == "The password is too long.")
            await #expect(throws: TokenGateError.invalidRequest("")) {
                try await hasher.verify(password, against: phc)
            }
        }
    }

    @Test func outOfRangeParametersAreRefused() throws {
        try Argon2Parameters().validate()
        try Argon2Parameters(memoryKiB: 8, iterations: 1, parallelism: 1).validate()
        let invalid = [
            Argon2Parameters(memoryKiB: 7, iterations: 1, parallelism: 1),
            Argon2Parameters(memoryKiB: 16, iterations: 1, parallelism: 4),
            Argon2Parameters(memoryKiB: 4 * 1024 * 1024 + 1),
            Argon2Parameters(iterations: 0),
            Argon2Parameters(parallelism: 0),
            Argon2Parameters(parallelism: 17),
            Argon2Parameters(saltLength: 4),
            Argon2Parameters(hashLength: 8),
        ]
        for parameters in invalid {
            let error = #expect(throws: TokenGateError.self) { try parameters.validate() }
            #expect(error?.message.contains("passwords.") == true, "\(String(describing: error))")
            #expect(throws: TokenGateError.self) { try Argon2idPasswordHasher(parameters: parameters, pool: pool) }
        }
    }
}
