#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Greylist {
    /// The persistent state now: bans in force and escalation histories still remembered.
    /// The admin command exports it as JSON; a store's compaction writes it.
    ///
    /// - Returns: A snapshot with no warnings.
    public func export() -> GreylistSnapshot {
        let now = clock.nowMilliseconds
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        var bans: [BanEntry] = []
        var histories: [BanHistory] = []
        for (key, slot) in gate.all() {
            if slot.expiresAt > now {
                bans.append(entry(key, slot))
            } else if reasons.isRule(slot.reason), now < slot.expiresAt.addingClamped(forgetAfter) {
                histories.append(BanHistory(network: key, banCount: slot.banCount, lastBanEnd: WallClock.date(slot.expiresAt)))
            }
        }
        let trusted = gate.allTrusted().filter { $0.1 > now }.map { TrustedKey(network: $0.0, until: WallClock.date($0.1)) }
        return GreylistSnapshot(bans: bans.sorted { $0.network < $1.network }, histories: histories.sorted { $0.network < $1.network },
                                trusted: trusted.sorted { $0.network < $1.network })
    }

    /// Re-arms stored state at start-up, into the gate: bans that have not expired, with their
    /// wall-clock expiry, and escalation histories not yet forgotten (past `maxBans`, the
    /// latest-expiring are kept). Returns the reason table, the recent usernames it built, and
    /// how many records it clamped.
    ///
    /// Stored records are not trusted blindly, even with a valid CRC: a rule ban ends at most
    /// `escalation.maxBan` from now and starts no later than now; a history ends no later than
    /// now (a future one would act as a ban); a trust lasts at most `trust.memory` from now.
    /// Operators' bans keep the length they were given.
    static func restore(_ snapshot: GreylistSnapshot, configuration: GreylistConfiguration, now: Int64, into gate: AcceptGate)
        -> (ReasonTable, RecentUsers, clamped: Int) {
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        let latestRuleExpiry = now.addingClamped(configuration.escalation.maxBan.wholeMilliseconds)
        var clamped = 0
        func clamp(_ value: Int64, to limit: Int64) -> Int64 {
            guard value > limit else { return value }
            clamped += 1
            return limit
        }
        var reasons = ReasonTable()
        var users = RecentUsers(capacity: 16_384)
        var slots: [(IPNetwork, BanSlot)] = []
        let historyReason = reasons.index(.rule("(history)"))
        for history in snapshot.histories {
            let end = clamp(WallClock.milliseconds(history.lastBanEnd), to: now)
            guard now < end.addingClamped(forgetAfter) else { continue }
            slots.append((history.network, BanSlot(key: history.network.address.bits, expiresAt: end, bannedAt: end,
                                                   banCount: history.banCount, reason: historyReason, isRuleBan: true)))
        }
        for ban in snapshot.bans {
            let isRule: Bool
            if case .rule = ban.reason { isRule = true } else { isRule = false }
            let expiresAt = isRule ? clamp(ban.expiresAtMilliseconds, to: latestRuleExpiry) : ban.expiresAtMilliseconds
            guard expiresAt > now || (isRule && now < expiresAt.addingClamped(forgetAfter)) else { continue }
            slots.append((ban.network, BanSlot(key: ban.network.address.bits, expiresAt: expiresAt,
                                               bannedAt: clamp(ban.bannedAtMilliseconds, to: now), banCount: ban.banCount,
                                               reason: reasons.index(ban.reason), isRuleBan: isRule)))
            if let user = ban.user, expiresAt > now { users[ban.network] = user }
        }
        if slots.count > configuration.limits.maxBans {
            slots = Array(slots.sorted { $0.1.expiresAt > $1.1.expiresAt }.prefix(configuration.limits.maxBans))
        }
        for (network, slot) in slots { gate.upsert(network, slot) }
        if configuration.trust.memory > .zero {
            let latestTrust = now.addingClamped(configuration.trust.memory.wholeMilliseconds)
            for trusted in snapshot.trusted {
                let until = clamp(WallClock.milliseconds(trusted.until), to: latestTrust)
                if until > now { gate.trust(trusted.network, until: until) }
            }
            gate.purgeTrust(now: now, limit: configuration.trust.maxTrustedKeys)
        }
        return (reasons, users, clamped)
    }

    /// Waits until every change is stored, then closes the store (a ``JournalStore`` lets go of
    /// its directory, so another process or a restarted server in this one can open it).
    /// Changes after this are not stored.
    public func closeStore() async {
        await acknowledgeStored()
        await store?.close()
    }

    /// Queues a change with the store, in the same turn as the state change it describes.
    func persist(_ change: GreylistChange) {
        guard let store else { return }
        lastStoredSequence = store.append(change) { export() }
    }

    /// Waits until every change made so far is stored; a failure is reported, and the store
    /// rewrites its whole state once the disk works again.
    func acknowledgeStored() async {
        guard let store, lastStoredSequence > 0 else { return }
        do {
            try await store.waitUntilStored(lastStoredSequence)
        } catch {
            events?(.storageFailed(error.description))
        }
    }

    /// Handles a store's notice: another node's change, or a failure of its background work.
    func receive(_ notice: GreylistStoreNotice) {
        switch notice {
        case .remoteChange(let change):
            applyRemote(change)
        case .failed(let error):
            events?(.storageFailed(error.description))
        }
    }

    /// Applies a change another node made (delivered by a shared store); it is not stored again.
    private func applyRemote(_ change: GreylistChange) {
        switch change {
        case .banned(let entry):
            // Another node's record is clamped as a stored one is (see restore).
            let now = clock.nowMilliseconds
            var expiresAt = entry.expiresAtMilliseconds
            if case .rule = entry.reason {
                expiresAt = min(expiresAt, now.addingClamped(configuration.escalation.maxBan.wholeMilliseconds))
            }
            guard expiresAt > now else { return }
            place(entry.network, reason: entry.reason, user: entry.user, bannedAt: min(entry.bannedAtMilliseconds, now),
                  expiresAt: expiresAt, banCount: entry.banCount, persist: false)
        case .removed(let key):
            gate.remove(key)
            recentUsers[key] = nil
        case .unbanned(let network):
            let now = clock.nowMilliseconds
            for (key, slot) in gate.sweep({ key, _ in !network.contains(key) }) {
                recentUsers[key] = nil
                if slot.expiresAt > now { events?(.unbanned(entry(key, slot))) }
            }
            trackers.removeAll { key, _ in network.contains(key) }
        case .trusted(let key, let until):
            let latest = clock.nowMilliseconds.addingClamped(configuration.trust.memory.wholeMilliseconds)
            gate.trust(key, until: min(WallClock.milliseconds(until), latest))
        case .distrusted(let key):
            gate.distrust(key)
        }
    }
}
