/// The bans, as one lock-guarded set of compact tables that both the accept path and the actor use.
///
/// The accept loop reads it synchronously: a lookup masks the address once per prefix length in
/// use (usually one or two) and probes an open-addressing table: O(1), no allocation, and the
/// clock is read only when a key is found. The actor is the only writer; its scans (purge,
/// eviction, listing) hold the lock for one pass over the table.
final class AcceptGate: Sendable {
    let state = LockedValue(AcceptState())

    /// Decides one connection and counts it. On a hit it also asks the trust table (a trusted
    /// key passes a rule ban) and extends a rule ban whose source keeps knocking.
    func check(_ address: IPAddress, clock: WallClock) -> AcceptVerdict {
        state.withLock { state in
            let isIPv4 = address.isIPv4
            for table in state.tables.indices where state.tables[table].isIPv4 == isIPv4 {
                let key = address.bits & state.tables[table].mask
                guard let index = state.tables[table].index(of: key) else { continue }
                let slot = state.tables[table][index]
                let now = clock.nowMilliseconds
                guard slot.expiresAt > now else { continue }
                if !state.allowlist.isEmpty && state.allowlist.contains(where: { $0.contains(address) }) {
                    break
                }
                if slot.isRuleBan && state.isTrusted(address, now: now) {
                    // A soft ban: the key earned trust by a successful login, so it is served and
                    // the stream is closed only at a failed login.
                    state.softAccepted += 1
                    break
                }
                if slot.isRuleBan, let extended = state.knocking.extendedExpiry(of: slot, now: now) {
                    state.tables[table][index].expiresAt = extended
                    state.tables[table][index].extendedSinceStored = true
                    state.extensions += 1
                }
                let count = slot.refusedCount
                state.tables[table][index].refusedCount = count == .max ? count : count + 1
                let network = IPNetwork(unchecked: IPAddress(bits: key), prefixLength: state.tables[table].familyPrefixLength)
                if state.dryRun {
                    state.accepted += 1
                    state.wouldHaveRefused += 1
                    return .acceptedInDryRun(network)
                }
                state.refused += 1
                return .refused(network)
            }
            state.accepted += 1
            return .accepted
        }
    }

    /// The slot of exactly `network`, if any (a remembered one included).
    func slot(_ network: IPNetwork) -> BanSlot? {
        state.withLock { state in
            guard let table = state.tables.firstIndex(where: { $0.matches(network) }),
                  let index = state.tables[table].index(of: network.address.bits) else { return nil }
            return state.tables[table][index]
        }
    }

    /// Inserts or replaces the slot of `network`, keeping its refused count, in one locked step.
    ///
    /// - Returns: The slot it replaced, if any, and how many slots the gate holds now.
    @discardableResult
    func upsert(_ network: IPNetwork, _ slot: BanSlot) -> (previous: BanSlot?, count: Int) {
        state.withLock { state in
            let table = state.tableIndex(for: network)
            var slot = slot
            if let index = state.tables[table].index(of: network.address.bits) {
                slot.refusedCount = state.tables[table][index].refusedCount
            }
            let previous = state.tables[table].upsert(slot)
            return (previous, state.tables.reduce(0) { $0 + $1.count })
        }
    }

    /// Removes the slot of exactly `network`.
    @discardableResult
    func remove(_ network: IPNetwork) -> BanSlot? {
        state.withLock { state in
            guard let table = state.tables.firstIndex(where: { $0.matches(network) }),
                  let index = state.tables[table].index(of: network.address.bits) else { return nil }
            let slot = state.tables[table][index]
            state.tables[table].remove(at: index)
            if state.tables[table].count == 0 { state.tables.remove(at: table) }
            return slot
        }
    }

    /// Visits every slot; `body` may change it and returns `false` to remove it. Returns the removed ones.
    @discardableResult
    func sweep(_ body: (IPNetwork, inout BanSlot) -> Bool) -> [(IPNetwork, BanSlot)] {
        state.withLock { state in
            var removed: [(IPNetwork, BanSlot)] = []
            for table in state.tables.indices {
                let prefix = state.tables[table]
                removed += state.tables[table].sweep { slot in body(prefix.network(slot), &slot) }.map { (prefix.network($0), $0) }
            }
            state.tables.removeAll { $0.count == 0 }
            return removed
        }
    }

    /// Every slot, with its network.
    func all() -> [(IPNetwork, BanSlot)] {
        state.withLock { state in
            state.tables.flatMap { table in table.slots.filter { !$0.isEmpty }.map { (table.network($0), $0) } }
        }
    }

    /// How many slots satisfy `predicate`, in one pass without copying.
    func count(where predicate: (BanSlot) -> Bool) -> Int {
        state.withLock { state in
            state.tables.reduce(0) { total, table in total + table.slots.reduce(0) { $0 + (!$1.isEmpty && predicate($1) ? 1 : 0) } }
        }
    }

    /// How many slots are held (bans in force and remembered ones).
    var count: Int {
        state.withLock { $0.tables.reduce(0) { $0 + $1.count } }
    }

    /// The `limit` slots that expire soonest, in one pass (remembered ones, already expired,
    /// first), never `keeping`.
    func soonestExpiring(_ limit: Int, keeping: IPNetwork? = nil) -> [IPNetwork] {
        state.withLock { state in
            // A bounded max-heap of the best candidates so far: O(n log k) time, O(k) memory.
            var heap = MinimumHeap<LatestFirst>()
            for table in state.tables {
                let kept = keeping.flatMap { table.matches($0) ? $0.address.bits : nil }
                for slot in table.slots where !slot.isEmpty && slot.key != kept {
                    if heap.count < limit {
                        heap.insert(LatestFirst(expiresAt: slot.expiresAt, network: table.network(slot)))
                    } else if let top = heap.minimum, slot.expiresAt < top.expiresAt {
                        heap.removeMinimum()
                        heap.insert(LatestFirst(expiresAt: slot.expiresAt, network: table.network(slot)))
                    }
                }
            }
            return heap.elements.sorted { $0.expiresAt < $1.expiresAt }.map(\.network)
        }
    }

    /// Sets what the accept path needs from the configuration.
    func configure(allowlist: [IPNetwork], dryRun: Bool, knocking: KnockingPolicy = .off) {
        state.withLock { state in
            state.allowlist = allowlist
            state.dryRun = dryRun
            state.knocking = knocking
        }
    }

    /// Whether the gate runs in dry run.
    var isDryRun: Bool {
        state.withLock { $0.dryRun }
    }

    /// The accept path's counters.
    var counters: (accepted: Int, refused: Int, wouldHaveRefused: Int, softAccepted: Int, extensions: Int) {
        state.withLock { (Int($0.accepted), Int($0.refused), Int($0.wouldHaveRefused), Int($0.softAccepted), Int($0.extensions)) }
    }
}

/// Orders the latest expiry first, so a `MinimumHeap` of it keeps the k soonest on its way.
private struct LatestFirst: Comparable {
    var expiresAt: Int64
    var network: IPNetwork

    static func < (lhs: LatestFirst, rhs: LatestFirst) -> Bool {
        lhs.expiresAt > rhs.expiresAt
    }
}

/// How refused connections extend rule bans, in milliseconds.
struct KnockingPolicy: Sendable {
    var enabled: Bool
    var extendBy: Int64
    var factor: Double
    var maxBan: Int64

    static let off = KnockingPolicy(enabled: false, extendBy: 0, factor: 1, maxBan: 0)

    /// The expiry a refusal now gives `slot`: the ban lasts, from now, at least `extendBy` and
    /// `factor` times as long as the source has been knocking since the ban began, never past
    /// `maxBan` after it began; `nil` when that is no later than its expiry today.
    func extendedExpiry(of slot: BanSlot, now: Int64) -> Int64? {
        guard enabled else { return nil }
        let knocking = Double(max(now - slot.bannedAt, 0)) * factor
        let length = max(extendBy, knocking >= Double(maxBan) ? maxBan : Int64(knocking))
        let wanted = min(now.addingClamped(length), slot.bannedAt.addingClamped(maxBan))
        return wanted > slot.expiresAt ? wanted : nil
    }
}

/// What the gate decided for one connection.
enum AcceptVerdict {
    case accepted
    case refused(IPNetwork)
    case acceptedInDryRun(IPNetwork)
}

struct AcceptState {
    /// Most specific first, so a host ban is found before a covering network ban.
    var tables: [PrefixTable] = []
    /// Trusted keys: a slot's `expiresAt` is the end of its trust.
    var trustTables: [PrefixTable] = []
    var allowlist: [IPNetwork] = []
    var dryRun = false
    var knocking = KnockingPolicy.off
    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    var wouldHaveRefused: UInt64 = 0
    var softAccepted: UInt64 = 0
    var extensions: UInt64 = 0

    /// Whether a trusted key covers `address` now.
    func isTrusted(_ address: IPAddress, now: Int64) -> Bool {
        let isIPv4 = address.isIPv4
        for table in trustTables where table.isIPv4 == isIPv4 {
            if let index = table.index(of: address.bits & table.mask), table[index].expiresAt > now { return true }
        }
        return false
    }

    mutating func tableIndex(for network: IPNetwork) -> Int {
        if let index = tables.firstIndex(where: { $0.matches(network) }) {
            return index
        }
        let wide = network.widePrefixLength
        let position = tables.firstIndex { $0.widePrefixLength < wide } ?? tables.endIndex
        tables.insert(PrefixTable(isIPv4: network.address.isIPv4, widePrefixLength: wide), at: position)
        return position
    }
}

extension AcceptGate {
    /// Slots copied per lock hold by scans that visit the whole table.
    static let sliceSize = 4_096

    /// Replaces every table at once (start-up, before the accept path runs).
    func install(bans: [PrefixTable], trust: [PrefixTable]) {
        state.withLock { state in
            state.tables = bans.sorted { $0.widePrefixLength > $1.widePrefixLength }
            state.trustTables = trust
        }
    }

    /// Copies every occupied slot, ban and trust tables, `sliceSize` slots per lock hold.
    ///
    /// Only the actor changes the tables' shape, and it is busy calling this, so the slices
    /// form one consistent copy; the accept path may update refused counts in between.
    func image(sliceSize: Int = AcceptGate.sliceSize) -> [StateImage.Table] {
        var result: [StateImage.Table] = []
        for isTrust in [false, true] {
            let shapes = state.withLock { state in
                (isTrust ? state.trustTables : state.tables).map { ($0.isIPv4, $0.widePrefixLength, $0.slots.count, $0.count) }
            }
            for (table, shape) in shapes.enumerated() {
                var slots: [BanSlot] = []
                slots.reserveCapacity(shape.3)
                var start = 0
                while start < shape.2 {
                    let end = min(start + sliceSize, shape.2)
                    state.withLock { state in
                        let tables = isTrust ? state.trustTables : state.tables
                        guard table < tables.count, end <= tables[table].slots.count else { return }
                        tables[table].slots.withUnsafeBufferPointer { buffer in
                            for slot in buffer[start..<end] where !slot.isEmpty { slots.append(slot) }
                        }
                    }
                    start = end
                }
                result.append(StateImage.Table(isTrust: isTrust, isIPv4: shape.0, widePrefixLength: shape.1, slots: slots))
            }
        }
        return result
    }
}
