/// The ban table's writes, through which every ban goes (rules, operators, other nodes): placing,
/// evicting for room, and the public form of a slot.
extension Greylist {
    /// Places a ban in the table the accept path reads (one locked write), stores it, and reports it.
    @discardableResult
    func place(_ key: IPNetwork, reason: BanEntry.Reason, user: String?, bannedAt: Int64, expiresAt: Int64,
               banCount: Int, persist shouldPersist: Bool = true, share: Bool = true) -> BanEntry {
        // A replaced ban keeps its refused count (upsert carries it over and returns the old slot).
        let isRule: Bool
        if case .rule = reason { isRule = true } else { isRule = false }
        let (previous, count) = gate.upsert(key, BanSlot(key: key.address.bits, expiresAt: expiresAt, bannedAt: bannedAt,
                                                         banCount: banCount, reason: reasons.index(reason), isRuleBan: isRule))
        recentUsers[key] = user
        var placed = BanEntry(network: key, reason: reason, user: user, bannedAtMilliseconds: bannedAt,
                              expiresAtMilliseconds: expiresAt, banCount: banCount,
                              refusedCount: Int(previous?.refusedCount ?? 0))
        placed.isSoft = isRule && isTrusted(key, now: bannedAt)
        if shouldPersist { persist(.banned(placed), share: share) }
        events?(.banned(placed, dryRun: configuration.dryRun))
        if count > configuration.limits.maxBans {
            evictBans(toFit: configuration.limits.maxBans, keeping: key)
        }
        return placed
    }

    /// Makes the ban table hold at most `limit` slots: first what purging frees, then the
    /// soonest-expiring (remembered histories, already expired, go first), never `keeping`.
    /// Past the cap it frees a batch of 1/64 of the cap in one pass, so a flood pays for one scan
    /// per batch.
    func evictBans(toFit limit: Int, keeping: IPNetwork? = nil) {
        guard gate.count > max(limit, 0) else { return }
        purgeExpired()
        let excess = gate.count - max(limit, 0)
        guard excess > 0 else { return }
        let now = clock.nowMilliseconds
        for (key, _) in gate.soonestExpiring(max(excess, limit / 64), where: { key, _ in key != keeping }) {
            guard let slot = gate.remove(key) else { continue }
            recentUsers[key] = nil
            persist(.removed(key), share: false)
            if slot.expiresAt > now {
                counters.bansEvicted += 1
                events?(.banEvicted(entry(key, slot)))
            } else {
                counters.countersEvicted += 1
                events?(.counterEvicted(key))
            }
        }
    }

    /// The public form of a slot; `now` (when given) marks a rule ban on a trusted key as soft.
    func entry(_ key: IPNetwork, _ slot: BanSlot, now: Int64? = nil) -> BanEntry {
        var entry = BanEntry(
            network: key, reason: reasons[slot.reason], user: recentUsers[key],
            bannedAtMilliseconds: slot.bannedAt, expiresAtMilliseconds: slot.expiresAt,
            banCount: slot.banCount, refusedCount: Int(slot.refusedCount)
        )
        if let now, slot.isRuleBan { entry.isSoft = isTrusted(key, now: now) }
        return entry
    }
}
