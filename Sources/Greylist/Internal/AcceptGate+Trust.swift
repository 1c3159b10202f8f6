/// The trust table: keys with a recent successful login, which the accept path lets through a
/// rule ban. Same compact tables as the bans; a slot's `expiresAt` is the end of the trust.
extension AcceptGate {
    /// Trusts `key` until `until` (replacing an earlier end), in one locked step.
    ///
    /// - Returns: The previous end of trust, if any, and how many keys are trusted now.
    @discardableResult
    func trust(_ key: IPNetwork, until: Int64) -> (previous: Int64?, count: Int) {
        growIfFull(for: key, trust: true)
        return state.withLock { state in
            let index = state.trustTableIndex(for: key)
            let previous = state.trustTables[index].upsert(BanSlot(key: key.address.bits, expiresAt: until, bannedAt: until, banCount: 0, reason: 0))
            return (previous?.expiresAt, state.trustTables.reduce(0) { $0 + $1.count })
        }
    }

    /// When the trust of exactly `key` ends, if it is trusted at all (an ended trust included
    /// until it is purged).
    func trustedUntil(_ key: IPNetwork) -> Int64? {
        state.withLock { state in
            guard let table = state.trustTables.first(where: { $0.matches(key) }),
                  let index = table.index(of: key.address.bits) else { return nil }
            return table[index].expiresAt
        }
    }

    /// Whether a trusted key covers `address` at `now`.
    func isTrusted(_ address: IPAddress, now: Int64) -> Bool {
        state.withLock { $0.isTrusted(address, now: now) }
    }

    /// Forgets the trust of exactly `key`; returns whether it was there.
    @discardableResult
    func distrust(_ key: IPNetwork) -> Bool {
        state.withLock { state in
            guard let table = state.trustTables.firstIndex(where: { $0.matches(key) }),
                  let index = state.trustTables[table].index(of: key.address.bits) else { return false }
            state.trustTables[table].remove(at: index, shrinking: false)
            if state.trustTables[table].count == 0 { state.trustTables.remove(at: table) }
            return true
        }
    }

    /// Drops trust that ended at or before `now`, and, past `limit` keys, the soonest-ending;
    /// a slice of the table per lock hold.
    ///
    /// - Returns: The keys dropped because of `limit` (ended trust is dropped silently).
    @discardableResult
    func purgeTrust(now: Int64, limit: Int) -> [IPNetwork] {
        sweep(trust: true) { _, slot in slot.expiresAt > now }
        var count = trustedCount
        guard count > limit else { return [] }
        // Rare (a cap reached): sort once and drop the soonest-ending down to 63/64 of the cap.
        var all = allTrusted()
        all.sort { $0.1 < $1.1 }
        var dropped: [IPNetwork] = []
        for (key, _) in all where count > limit - limit / 64 {
            guard distrust(key) else { continue }
            dropped.append(key)
            count -= 1
        }
        shrinkSparseTables(trust: true)
        return dropped
    }

    /// Every trusted key with the end of its trust, copied a slice at a time.
    func allTrusted() -> [(IPNetwork, Int64)] {
        image(trust: true).flatMap { table in
            let prefix = PrefixTable(isIPv4: table.isIPv4, widePrefixLength: table.widePrefixLength, capacity: 8)
            return table.slots.map { (prefix.network($0), $0.expiresAt) }
        }
    }

    /// How many keys are trusted (ended trust not yet purged included).
    var trustedCount: Int {
        state.withLock { $0.trustTables.reduce(0) { $0 + $1.count } }
    }
}

extension AcceptState {
    mutating func trustTableIndex(for network: IPNetwork) -> Int {
        if let index = trustTables.firstIndex(where: { $0.matches(network) }) {
            return index
        }
        trustTables.append(PrefixTable(isIPv4: network.address.isIPv4, widePrefixLength: network.widePrefixLength))
        return trustTables.count - 1
    }
}
