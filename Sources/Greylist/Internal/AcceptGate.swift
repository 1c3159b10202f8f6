/// The accept path's view of the bans: a lock-guarded table the accept loop reads synchronously.
///
/// The actor is the only writer; every connection reads. A lookup masks the address once per
/// prefix length in use (usually one or two) and probes a hash table: O(1), no allocation, and
/// the clock is read only when a key is found.
final class AcceptGate: Sendable {
    private let state = LockedValue(AcceptState())

    /// Decides one connection and counts it.
    func check(_ address: IPAddress, clock: WallClock) -> AcceptVerdict {
        state.withLock { state in
            let isIPv4 = address.isIPv4
            for table in state.tables.indices where state.tables[table].isIPv4 == isIPv4 {
                let key = address.bits & state.tables[table].mask
                guard let slot = state.tables[table].entries.index(forKey: key),
                      state.tables[table].entries.values[slot].expiresAt > clock.nowMilliseconds else { continue }
                if !state.allowlist.isEmpty && state.allowlist.contains(where: { $0.contains(address) }) {
                    break
                }
                let count = state.tables[table].entries.values[slot].refusedCount
                state.tables[table].entries.values[slot].refusedCount = count == .max ? count : count + 1
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

    /// Places or replaces the ban of `network`.
    func insert(_ network: IPNetwork, expiresAt: Int64) {
        state.withLock { state in
            let index = state.tableIndex(for: network)
            let key = network.address.bits
            let refused = state.tables[index].entries[key]?.refusedCount ?? 0
            state.tables[index].entries[key] = BanSlot(expiresAt: expiresAt, refusedCount: refused)
        }
    }

    /// Removes the ban of `network` and returns how many connections it refused.
    @discardableResult
    func remove(_ network: IPNetwork) -> Int {
        state.withLock { state in
            guard let index = state.tables.firstIndex(where: { $0.matches(network) }),
                  let slot = state.tables[index].entries.removeValue(forKey: network.address.bits) else { return 0 }
            if state.tables[index].entries.isEmpty {
                state.tables.remove(at: index)
            }
            return Int(slot.refusedCount)
        }
    }

    /// How many connections the ban of `network` refused so far.
    func refusedCount(of network: IPNetwork) -> Int {
        state.withLock { state in
            guard let table = state.tables.first(where: { $0.matches(network) }) else { return 0 }
            return Int(table.entries[network.address.bits]?.refusedCount ?? 0)
        }
    }

    /// Sets what the accept path needs from the configuration.
    func configure(allowlist: [IPNetwork], dryRun: Bool) {
        state.withLock { state in
            state.allowlist = allowlist
            state.dryRun = dryRun
        }
    }

    /// Whether the gate runs in dry run.
    var isDryRun: Bool {
        state.withLock { $0.dryRun }
    }

    /// The accept path's counters.
    var counters: (accepted: Int, refused: Int, wouldHaveRefused: Int) {
        state.withLock { (Int($0.accepted), Int($0.refused), Int($0.wouldHaveRefused)) }
    }
}

/// What the gate decided for one connection.
enum AcceptVerdict {
    case accepted
    case refused(IPNetwork)
    case acceptedInDryRun(IPNetwork)
}

/// One ban as the accept path sees it: 16 bytes next to its 16-byte key.
struct BanSlot {
    var expiresAt: Int64
    var refusedCount: UInt32
}

/// Bans of one family and prefix length, keyed by the masked address.
struct PrefixTable {
    let isIPv4: Bool
    let widePrefixLength: Int
    let mask: UInt128
    var entries: [UInt128: BanSlot] = [:]

    var familyPrefixLength: Int {
        isIPv4 ? widePrefixLength - 96 : widePrefixLength
    }

    func matches(_ network: IPNetwork) -> Bool {
        isIPv4 == network.address.isIPv4 && widePrefixLength == network.widePrefixLength
    }
}

struct AcceptState {
    /// Most specific first, so a host ban is found before a covering network ban.
    var tables: [PrefixTable] = []
    var allowlist: [IPNetwork] = []
    var dryRun = false
    var accepted: UInt64 = 0
    var refused: UInt64 = 0
    var wouldHaveRefused: UInt64 = 0

    mutating func tableIndex(for network: IPNetwork) -> Int {
        if let index = tables.firstIndex(where: { $0.matches(network) }) {
            return index
        }
        let wide = network.widePrefixLength
        let table = PrefixTable(isIPv4: network.address.isIPv4, widePrefixLength: wide, mask: IPNetwork.mask(wide))
        let position = tables.firstIndex { $0.widePrefixLength < wide } ?? tables.endIndex
        tables.insert(table, at: position)
        return position
    }
}
