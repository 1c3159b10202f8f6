import GreylistTestSupport
import Testing
@testable import Greylist


/// Whole-table work on the accept gate holds its lock for bounded slices, and loses nothing.
@Suite struct AcceptGateSliceTests {
    /// IPv6 /64 keys with a small key space mixed in, so probe runs wrap around the table's end.
    func key(_ index: Int) -> IPNetwork {
        IPNetwork(unchecked: IPAddress(bits: UInt128(0x2001_0db8) << 96 | UInt128(index) << 64), prefixLength: 64)
    }

    func filledGate(_ count: Int, expiry: (Int) -> Int64) -> AcceptGate {
        let gate = AcceptGate()
        for index in 0..<count {
            gate.upsert(key(index), BanSlot(key: key(index).address.bits, expiresAt: expiry(index), bannedAt: 1, banCount: 1, reason: 0))
        }
        return gate
    }

    @Test("a sweep over 50,000 slots visits each, removes exactly what it rejects, and never holds the lock for more than a slice")
    func slicedSweep() {
        var generator = SeededRandom(state: 9)
        let expiries = (0..<50_000).map { _ in Int64.random(in: 1...1_000, using: &generator) }
        let gate = filledGate(expiries.count) { expiries[$0] }
        var visitsPerHold: [Int: Int] = [:]
        var visited = Set<IPNetwork>()
        let removed = gate.sweep { network, slot in
            visitsPerHold[gate.scanHolds.withLock { $0 }, default: 0] += 1
            visited.insert(network)
            slot.refusedCount = 3
            return slot.expiresAt > 500
        }
        #expect(visited.count == expiries.count, "every slot visited")
        #expect(visitsPerHold.values.max()! <= 1_024, "at most one slice (1,024 slots) per lock hold")
        #expect(visitsPerHold.count >= expiries.count / AcceptGate.sliceSize)
        let expected = Set(expiries.indices.filter { expiries[$0] <= 500 }.map(key))
        #expect(Set(removed.map(\.0)) == expected && removed.count == expected.count)
        #expect(gate.count == expiries.count - expected.count)
        for index in expiries.indices {
            let slot = gate.slot(key(index))
            #expect((slot == nil) == (expiries[index] <= 500), "key \(index)")
            if let slot { #expect(slot.refusedCount == 3 && slot.expiresAt == expiries[index]) }
        }
        #expect(gate.liveBans == gate.count, "removed live bans were uncounted")
    }

    @Test("growth, shrinking and snapshot copies rebuild off the lock, a slice per hold, and keep every slot")
    func slicedRebuilds() {
        let gate = filledGate(30_000) { Int64($0 + 1) }
        // The last growth copied ~20,000 slots: more than one hold.
        let holdsBefore = gate.scanHolds.withLock { $0 }
        let image = gate.image()
        let holds = gate.scanHolds.withLock { $0 } - holdsBefore
        #expect(image.reduce(0) { $0 + $1.slots.count } == 30_000)
        #expect(holds >= gate.state.withLock { $0.tables[0].slots.count } / AcceptGate.sliceSize)
        // Removing 29,000 leaves the table sparse: it shrinks, and the rest is intact.
        gate.sweep { _, slot in slot.expiresAt > 29_000 }
        let capacity = gate.state.withLock { $0.tables[0].slots.count }
        #expect(capacity < 2_000, "shrunk to \(capacity)")
        #expect((0..<30_000).allSatisfy { (gate.slot(key($0)) != nil) == ($0 >= 29_000) })
    }

    @Test("the k soonest-expiring keys, found in slices, are exactly the k smallest expiries")
    func soonestInSlices() {
        var generator = SeededRandom(state: 5)
        let expiries = (0..<20_000).map { _ in Int64.random(in: 1...1_000_000_000, using: &generator) }
        let gate = filledGate(expiries.count) { expiries[$0] }
        let kept = key(expiries.indices.min { expiries[$0] < expiries[$1] }!)
        let soonest = gate.soonestExpiring(100) { key, _ in key != kept }.map(\.0)
        let expected = expiries.indices.sorted { expiries[$0] < expiries[$1] }.dropFirst().prefix(100).map(key)
        #expect(soonest == Array(expected))
    }

    @Test("statistics count live bans without walking: a purge's reported expiries and removals are uncounted")
    func liveBans() async throws {
        let clock = ManualClock(.init(timeIntervalSince1970: 1_000_000))
        let greylist = try Greylist(configuration: .init(rules: [botnetRule]), clock: clock.wallClock)
        for index in 1...10 { await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("10.\(index).0.1")) }
        try await greylist.ban(.cidr("198.51.100.0/24"), for: .seconds(60), reason: "short")
        #expect(await greylist.statistics().activeBans == 11)
        clock.advance(by: .seconds(61))
        await greylist.purgeExpired()
        #expect(await greylist.statistics().activeBans == 10, "the manual ban expired and was purged")
        clock.advance(by: .seconds(86_400))
        await greylist.purgeExpired()
        #expect(await greylist.statistics().activeBans == 0, "rule bans expired: their slots stay as histories, not counted")
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("10.1.0.1"))
        #expect(await greylist.statistics().activeBans == 1, "a repeat ban over a history counts again")
    }
}
