import GreylistTestSupport
import Testing
@testable import Greylist


@Suite struct PrefixTableTests {
    func slot(_ key: UInt128, _ expiry: Int64) -> BanSlot {
        BanSlot(key: key, expiresAt: expiry, bannedAt: 1, banCount: 1, reason: 0)
    }

    @Test("matches a Dictionary through random inserts, replacements, removals, growth and shrinking")
    func modelCheck() {
        var generator = SeededRandom(state: 42)  // deterministic: a failure reproduces
        var table = PrefixTable(isIPv4: false, widePrefixLength: 64)
        var model: [UInt128: Int64] = [:]
        // A small key space makes collisions, long probe runs and wrap-around common.
        for step in 0..<60_000 {
            let key = UInt128(UInt64.random(in: 0..<5_000, using: &generator)) << 64
            switch UInt8.random(in: 0..<10, using: &generator) {
            case 0..<6:
                let expiry = Int64.random(in: 1...Int64.max, using: &generator)
                table.upsert(slot(key, expiry))
                model[key] = expiry
            default:
                if let index = table.index(of: key) { table.remove(at: index) }
                model[key] = nil
            }
            if step % 997 == 0 || step > 59_990 {
                #expect(table.count == model.count, "step \(step)")
                for (key, expiry) in model {
                    guard let index = table.index(of: key) else {
                        Issue.record("step \(step): lost key \(key)")
                        return
                    }
                    #expect(table[index].expiresAt == expiry)
                }
            }
        }
        // Removing everything shrinks the table again.
        for key in model.keys {
            table.remove(at: table.index(of: key)!)
        }
        #expect(table.count == 0)
        #expect(table.slots.count < 64)
    }

    @Test("a sweep updates in place and removes what it rejects")
    func sweep() {
        var table = PrefixTable(isIPv4: true, widePrefixLength: 128)
        for index in 1...1_000 { table.upsert(slot(UInt128(index), Int64(index))) }
        let removed = table.sweep { slot in
            slot.refusedCount = 7
            return slot.expiresAt % 2 == 0
        }
        #expect(removed.count == 500)
        #expect(table.count == 500)
        for index in stride(from: 2, through: 1_000, by: 2) {
            #expect(table[table.index(of: UInt128(index))!].refusedCount == 7)
        }
        #expect(table.index(of: 3) == nil)
    }

    @Test("a slot is 40 bytes")
    func slotSize() {
        #expect(MemoryLayout<BanSlot>.stride == 40)
    }
}
