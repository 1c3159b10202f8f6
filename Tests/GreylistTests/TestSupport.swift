import Foundation
@testable import Greylist

/// A wall clock the test moves by hand; it never moves by itself.
final class ManualClock: Sendable {
    private let current: LockedValue<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = LockedValue(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        current.withLock { $0 += Double(seconds) + Double(attoseconds) / 1e18 }
    }

    var wallClock: WallClock {
        WallClock { self.now }
    }
}

/// Collects every event the greylist emits.
final class EventRecorder: Sendable {
    private let storage = LockedValue<[GreylistEvent]>([])

    var events: [GreylistEvent] { storage.withLock { $0 } }

    var sink: @Sendable (GreylistEvent) -> Void {
        { event in self.storage.withLock { $0.append(event) } }
    }
}

extension IPAddress {
    /// Parses a literal the test knows is valid.
    static func literal(_ text: String) -> IPAddress {
        try! IPAddress(text)
    }
}

extension IPNetwork {
    static func cidr(_ text: String) -> IPNetwork {
        try! IPNetwork(text)
    }
}

/// The seed's rule: one matching failure bans for four hours.
let botnetRule = Rule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))
