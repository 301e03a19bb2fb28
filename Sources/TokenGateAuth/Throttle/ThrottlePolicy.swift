/// Limits on failed logins (DESIGN §2 Login, Throttling).
public struct ThrottlePolicy: Sendable, Equatable {
    /// Failures for one username before it is locked out.
    public var userLimit: Int
    /// Failures from one client address before it is locked out.
    public var addressLimit: Int
    /// First lockout in seconds; doubles with each further failure.
    public var baseLockout: Int
    /// Longest lockout in seconds.
    public var maxLockout: Int
    /// Counts are forgotten after this many seconds without a failure.
    public var forgetAfter: Int

    public init(userLimit: Int = 5, addressLimit: Int = 30, baseLockout: Int = 2, maxLockout: Int = 900, forgetAfter: Int = 900) {
        self.userLimit = userLimit
        self.addressLimit = addressLimit
        self.baseLockout = baseLockout
        self.maxLockout = maxLockout
        self.forgetAfter = forgetAfter
    }

    /// The lockout after the `failures`-th failure against `limit`, in seconds (0 = none).
    func lockout(failures: Int, limit: Int) -> Int {
        guard failures >= limit else { return 0 }
        let doublings = min(failures - limit, 30)
        return min(baseLockout << doublings, maxLockout)
    }
}
