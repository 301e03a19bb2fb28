import Testing
import TokenGateAuth

/// Prints what one hash costs with the default parameters; informative, never a timed assertion.
@Suite struct PasswordCostTests {
    @Test func defaultParametersCostMeasurement() async throws {
        let pool = HashingPool(threadCount: 1)
        let hasher = try Argon2idPasswordHasher(parameters: Argon2Parameters(), pool: pool)
        let warmUp = try await hasher.hash("warm up")
        let clock = ContinuousClock()
        let rounds = 5
        var phc = warmUp
        let hashing = try await clock.measure {
            for round in 0..<rounds { phc = try await hasher.hash("password \(round)") }
        }
        let verifying = try await clock.measure {
            for _ in 0..<rounds { _ = try await hasher.verify("wrong", against: phc) }
        }
        let dummy = try await clock.measure {
            for _ in 0..<rounds { try await hasher.verifyDummy("wrong") }
        }
        #expect(phc.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        func milliseconds(_ duration: Duration) -> Double {
            let (seconds, attoseconds) = duration.components
            return (Double(seconds) * 1_000 + Double(attoseconds) / 1e15) / Double(rounds)
        }
        print(
            "Argon2id m=19456,t=2,p=1, mean of \(rounds): hash \(milliseconds(hashing)) ms, "
                + "verify \(milliseconds(verifying)) ms, verifyDummy \(milliseconds(dummy)) ms")
        await pool.shutdown()
    }
}
