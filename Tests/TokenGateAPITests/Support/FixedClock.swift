import Foundation
import Synchronization
import TokenGateAuth

/// A clock that stands still until a test moves it.
final class FixedClock: WallClock {
    /// A whole-second instant, so dates round-trip through SQLite exactly.
    static let epoch = Date(timeIntervalSince1970: 1_750_000_000)

    private let current: Mutex<Date>

    init(_ start: Date = FixedClock.epoch) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    /// Moves the clock forward by `seconds`.
    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
