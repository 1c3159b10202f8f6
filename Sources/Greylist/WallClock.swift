#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the greylist reads the time: the system's wall clock, or one a test drives by hand.
///
/// Expiries are wall-clock instants (they are persisted and shown to operators), kept to the
/// millisecond.
public struct WallClock: Sendable {
    /// `nil` for the system clock, read with `clock_gettime` directly: no `Date` on the accept path.
    private let read: (@Sendable () -> Date)?

    /// Creates a clock that calls `now` whenever the greylist needs the time.
    ///
    /// - Parameter now: Returns the current instant; it is called on the accept path, so keep it cheap.
    public init(now: @escaping @Sendable () -> Date) {
        self.read = now
    }

    private init() {
        self.read = nil
    }

    /// The system's real-time clock (`CLOCK_REALTIME`).
    public static let system = WallClock()

    /// The current instant.
    public var now: Date {
        read?() ?? Self.date(nowMilliseconds)
    }

    /// The current instant in whole milliseconds since 1970.
    package var nowMilliseconds: Int64 {
        if let read { return Self.milliseconds(read()) }
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }

    package static func milliseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1_000).rounded(.down)
        return value >= 9.2e18 ? .max : value <= -9.2e18 ? .min : Int64(value)
    }

    package static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
    }
}
