import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct GreylistLimitsTests {
    let clock = ManualClock()
    let recorder = EventRecorder()

    @Test("a flood of distinct sources never grows the ban table past maxBans; the soonest-expiring goes first")
    func banCap() async throws {
        let configuration = GreylistConfiguration(rules: [botnetRule], limits: .init(maxBans: 100, maxTrackedAddresses: 1_000),
                                                  knocking: .init(extendBans: false), ranges: .init(bannedKeys: 0))
        let greylist = try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink)
        try await greylist.ban(.cidr("192.0.2.0/24"), for: .seconds(30 * 86_400), reason: "long")
        for index in 0..<1_000 {
            clock.advance(by: .milliseconds(10))
            await greylist.recordFailedAuth(user: "bad_user_12345", ip: IPAddress(ipv4: 0x0A00_0000 + UInt32(index)))
        }
        let statistics = await greylist.statistics()
        #expect(statistics.activeBans == 100)
        #expect(statistics.bansEvicted == 901)
        let networks = Set(await greylist.list().map(\.network))
        #expect(networks.contains(.cidr("192.0.2.0/24")))
        #expect(networks.contains(.cidr("10.0.3.231/32")))
        #expect(!networks.contains(.cidr("10.0.0.0/32")))
        // Evicted bans no longer refuse.
        #expect(greylist.shouldAccept(ip: .literal("10.0.0.0")))
        #expect(!greylist.shouldAccept(ip: .literal("10.0.3.231")))
        let evictions = recorder.events.filter { if case .banEvicted = $0 { return true } else { return false } }
        #expect(evictions.count == 901)
    }

    @Test("a flood of distinct failing sources never grows the counter table past maxTrackedAddresses")
    func counterCap() async throws {
        let counting = GreylistRule(name: "guessing", maxFailures: 3, window: .seconds(600), banFor: .seconds(600))
        let configuration = GreylistConfiguration(rules: [counting], limits: .init(maxBans: 10, maxTrackedAddresses: 50),
                                                  spraying: .init(distinctSources: 0))
        let greylist = try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink)
        let kept = IPAddress.literal("192.0.2.1")
        await greylist.recordFailedAuth(user: "alice", ip: kept)
        for index in 0..<500 {
            await greylist.recordFailedAuth(user: "alice", ip: IPAddress(bits: 0x2001_0db8 << 96 | UInt128(index) << 64))
            if index % 10 == 0 {
                // Seen again: it stays among the most recent and keeps its count.
                await greylist.recordFailedAuth(user: "alice", ip: kept)
            }
        }
        let statistics = await greylist.statistics()
        #expect(statistics.trackedAddresses == 50)
        // 500 new sources into 50 places; the kept source's counter ended when it was banned.
        #expect(statistics.countersEvicted == 450)
        #expect(statistics.activeBans == 1)
        #expect(!greylist.shouldAccept(ip: kept))
    }

    @Test("lowering the caps by reload evicts down to them")
    func shrinkingCaps() async throws {
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock, events: recorder.sink)
        for index in 0..<20 {
            clock.advance(by: .seconds(1))
            await greylist.recordFailedAuth(user: "bad_user_12345", ip: IPAddress(ipv4: 0x0A00_0000 + UInt32(index)))
        }
        try await greylist.apply(GreylistConfiguration(rules: [botnetRule], limits: .init(maxBans: 5, maxTrackedAddresses: 5)))
        let statistics = await greylist.statistics()
        #expect(statistics.activeBans == 5)
        #expect(statistics.trackedAddresses == 0)
        #expect(await greylist.list().map(\.network.description) == (15..<20).map { "10.0.0.\($0)/32" })
    }
}
