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

/// A small deterministic generator (SplitMix64), so every run of a scenario is the same.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }
}
