import GreylistTestSupport
import Foundation
import Testing
@testable import Greylist

@Suite struct WallClockTests {
    @Test("the system clock reads the same wall-clock time as Date, to the millisecond")
    func systemClock() {
        let before = WallClock.milliseconds(Date())
        let reading = WallClock.system.nowMilliseconds
        let after = WallClock.milliseconds(Date())
        #expect(before <= reading && reading <= after)
        #expect(abs(WallClock.system.now.timeIntervalSince(Date())) < 1)
    }

    @Test("an injected clock is what the greylist reads")
    func injected() {
        let clock = WallClock { Date(timeIntervalSince1970: 1_234.5678) }
        #expect(clock.nowMilliseconds == 1_234_567)
        #expect(clock.now == Date(timeIntervalSince1970: 1_234.5678))
    }
}
