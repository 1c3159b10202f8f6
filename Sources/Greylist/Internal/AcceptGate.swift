/// The bans, as one lock-guarded set of compact tables that both the accept path and the actor use.
///
/// The accept loop reads it synchronously: a lookup masks the address once per prefix length in
/// use (usually one or two) and probes an open-addressing table: O(1), no allocation, and the
/// clock is read only when a key is found. The actor is the only writer of the tables' shape;
/// its scans (purge, eviction, listing, snapshots) and table rebuilds hold the lock for a
/// bounded slice of slots at a time (``AcceptGate/sliceSize``), never a whole-table pass.
final class AcceptGate: Sendable {
    let state = LockedValue(AcceptState())
    /// Lock holds taken by whole-table scans and rebuilds so far (tests check their slices).
    let scanHolds = LockedValue(0)

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
    /// A table about to outgrow its capacity is first rebuilt larger off the lock
    /// (``rebuild(_:trust:capacity:)``), so the accept path never waits for a whole-table pass.
    ///
    /// - Returns: The slot it replaced, if any, and how many slots the gate holds now.
    @discardableResult
    func upsert(_ network: IPNetwork, _ slot: BanSlot) -> (previous: BanSlot?, count: Int) {
        growIfFull(for: network, trust: false)
        return state.withLock { state in
            let table = state.tableIndex(for: network)
            var slot = slot
            if let index = state.tables[table].index(of: network.address.bits) {
                slot.refusedCount = state.tables[table][index].refusedCount
            }
            let previous = state.tables[table].upsert(slot)
            if previous == nil || previous?.expiryReported == true { state.liveBans += 1 }
            return (previous, state.tables.reduce(0) { $0 + $1.count })
        }
    }

    /// Removes the slot of exactly `network`; a table left sparse is shrunk off the lock.
    @discardableResult
    func remove(_ network: IPNetwork) -> BanSlot? {
        // An emptied table leaves with `retired` and is freed after the lock is released.
        var retired: PrefixTable?
        let removed = state.withLock { state -> BanSlot? in
            guard let table = state.tables.firstIndex(where: { $0.matches(network) }),
                  let index = state.tables[table].index(of: network.address.bits) else { return nil }
            let slot = state.tables[table][index]
            state.tables[table].remove(at: index, shrinking: false)
            if !slot.expiryReported { state.liveBans -= 1 }
            if state.tables[table].count == 0 { retired = state.tables.remove(at: table) }
            return slot
        }
        withExtendedLifetime(retired) {}
        if removed != nil { shrinkSparseTables(trust: false) }
        return removed
    }

    /// How many slots are held (bans in force and remembered ones).
    var count: Int {
        state.withLock { $0.tables.reduce(0) { $0 + $1.count } }
    }

    /// Sets what the accept path needs from the configuration.
    func configure(allowlist: [IPNetwork], softTrust: [IPNetwork] = [], dryRun: Bool, knocking: KnockingPolicy = .off) {
        state.withLock { state in
            state.allowlist = allowlist
            state.softTrust = softTrust
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
    /// Networks whose rule bans are always soft (the operator's soft-trust list).
    var softTrust: [IPNetwork] = []
    var dryRun = false
    var knocking = KnockingPolicy.off
    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    var wouldHaveRefused: UInt64 = 0
    var softAccepted: UInt64 = 0
    var extensions: UInt64 = 0
    /// Ban slots whose expiry purge has not yet reported: bans in force at the last purge and
    /// bans placed since. Kept as slots change, so statistics never walk the table.
    var liveBans = 0

    /// Whether a trusted key covers `address` now.
    func isTrusted(_ address: IPAddress, now: Int64) -> Bool {
        if !softTrust.isEmpty && softTrust.contains(where: { $0.contains(address) }) { return true }
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
