public import Foundation

/// How long sessions live and how forgiving rotation is.
public struct SessionPolicy: Sendable, Equatable {
    /// A session not refreshed for this many seconds ends.
    public var idleTTL: Int
    /// A session ends this many seconds after login.
    public var absoluteTTL: Int
    /// Seconds after a rotation during which the spent token returns the same successor.
    public var reuseGrace: Int

    public init(idleTTL: Int = 7 * 86400, absoluteTTL: Int = 30 * 86400, reuseGrace: Int = 10) {
        self.idleTTL = idleTTL
        self.absoluteTTL = absoluteTTL
        self.reuseGrace = reuseGrace
    }

    /// When a session used at `now` goes idle: the idle timeout, never past the absolute end.
    public func idleExpiry(from now: Date, absoluteExpiry: Date) -> Date {
        min(now.addingTimeInterval(TimeInterval(idleTTL)), absoluteExpiry)
    }
}
