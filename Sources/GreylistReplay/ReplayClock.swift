import Foundation
import Greylist
import Synchronization

/// The simulated wall clock: milliseconds since 1970, moved by hand; the greylist reads it
/// through a `WallClock`.
final class ReplayClock: Sendable {
    private let milliseconds: Atomic<Int64>

    init(start: Int64) {
        milliseconds = Atomic(start)
    }

    var now: Int64 { milliseconds.load(ordering: .relaxed) }

    func set(_ value: Int64) {
        milliseconds.store(value, ordering: .relaxed)
    }

    var wallClock: WallClock {
        WallClock { [self] in Date(timeIntervalSince1970: Double(now) / 1_000) }
    }
}

