import Foundation
import Greylist

/// A wall clock the test moves by hand; it never moves by itself.
package final class ManualClock: Sendable {
    private let current: LockedValue<Date>

    package init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = LockedValue(start)
    }

    package var now: Date { current.withLock { $0 } }

    package func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        current.withLock { $0 += Double(seconds) + Double(attoseconds) / 1e18 }
    }

    package var wallClock: WallClock {
        WallClock { self.now }
    }
}

