public import Foundation

/// A source of the current time, injected so tests can move it.
public protocol WallClock: Sendable {
    /// The current time.
    var now: Date { get }
}

/// The system clock.
public struct SystemClock: WallClock {
    public init() {}
    public var now: Date { Date() }
}
