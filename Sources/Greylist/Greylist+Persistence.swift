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
        var snapshot = GreylistSnapshot(bans: bans.sorted { $0.network < $1.network }, histories: histories.sorted { $0.network < $1.network },
                                        trusted: trusted.sorted { $0.network < $1.network })
        currentMarks(now: now).fill(&snapshot)
        return snapshot
    }

    /// Re-arms stored state at start-up, into the gate: bans that have not expired, with their
    /// wall-clock expiry, and escalation histories not yet forgotten (past `maxBans`, the
    /// latest-expiring are kept). The recovered tables are filtered in place and installed as
    /// they are. Returns the reason table, the recent usernames, and how many records it clamped.
    ///
    /// Stored records are not trusted blindly, even with a valid CRC: a rule ban ends at most
    /// `escalation.maxBan` from now and starts no later than now; a history ends no later than
    /// now (a future one would act as a ban); a trust lasts at most `trust.memory` from now.
    /// Operators' bans keep the length they were given.
    static func restore(_ state: consuming RecoveredState, configuration: GreylistConfiguration, now: Int64, into gate: AcceptGate)
        -> (ReasonTable, RecentUsers, clamped: Int) {
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        let latestRuleExpiry = now.addingClamped(configuration.escalation.maxBan.wholeMilliseconds)
        let historyReason = state.historyReason
        var clamped = 0
        var users = state.users
        for table in state.bans.indices {
            // The shape only: a copy of the table would make the sweep copy its slots.
            let familyPrefixLength = state.bans[table].familyPrefixLength
            func network(_ slot: BanSlot) -> IPNetwork {
                IPNetwork(unchecked: IPAddress(bits: slot.key), prefixLength: familyPrefixLength)
            }
            let dropped = state.bans[table].sweep { slot in
                if slot.reason == historyReason || (slot.isRuleBan && slot.expiresAt <= now) {
                    // A history: it ends no later than now, and no username is shown for it.
                    if slot.expiresAt > now {
                        clamped += 1
                        slot.expiresAt = now
                        slot.bannedAt = now
                    }
                    slot.reason = historyReason
                    slot.expiryReported = true
                    users[network(slot)] = nil
                    return now < slot.expiresAt.addingClamped(forgetAfter)
                }
                slot.expiryReported = false
                slot.extendedSinceStored = false
                if slot.isRuleBan {
                    if slot.expiresAt > latestRuleExpiry {
                        clamped += 1
                        slot.expiresAt = latestRuleExpiry
                    }
                    if slot.bannedAt > now {
                        clamped += 1
                        slot.bannedAt = now
                    }
                    return true
                }
                return slot.expiresAt > now
            }
            for slot in dropped { users[network(slot)] = nil }
        }
        state.bans.removeAll { $0.count == 0 }
        let held = state.bans.reduce(0) { $0 + $1.count }
        if held > configuration.limits.maxBans {
            // Rare (a lower cap than before): keep the latest-expiring.
            var expiries = state.bans.flatMap { $0.slots.lazy.filter { !$0.isEmpty }.map(\.expiresAt) }
            expiries.sort(by: >)
            let cut = expiries[configuration.limits.maxBans - 1]
            var room = configuration.limits.maxBans - expiries.prefix(configuration.limits.maxBans).count { $0 > cut }
            for table in state.bans.indices {
                _ = state.bans[table].sweep { slot in
                    if slot.expiresAt > cut { return true }
                    guard slot.expiresAt == cut, room > 0 else { return false }
                    room -= 1
                    return true
                }
            }
            state.bans.removeAll { $0.count == 0 }
        }
        var trust: [PrefixTable] = []
        if configuration.trust.memory > .zero {
            let latestTrust = now.addingClamped(configuration.trust.memory.wholeMilliseconds)
            trust = state.trust
            for table in trust.indices {
                _ = trust[table].sweep { slot in
                    if slot.expiresAt > latestTrust {
                        clamped += 1
                        slot.expiresAt = latestTrust
                    }
                    return slot.expiresAt > now
                }
            }
            trust.removeAll { $0.count == 0 }
        }
        gate.install(bans: state.bans, trust: trust)
        if configuration.trust.memory > .zero {
            gate.purgeTrust(now: now, limit: configuration.trust.maxTrustedKeys)
        }
        return (state.reasons, users, clamped)
    }

    /// Waits until every change is stored, then closes the store (a ``JournalStore`` lets go of
    /// its directory, so another process or a restarted server in this one can open it).
    /// Changes after this are not stored.
    public func closeStore() async {
        await acknowledgeStored()
        await store?.close()
    }

    /// Queues a change with the store, in the same turn as the state change it describes.
    /// `share: false` keeps it local: another node's change, or one only this node's capacity
    /// forced (an eviction).
    func persist(_ change: GreylistChange, share: Bool = true) {
        guard let store else { return }
        if let journal {
            lastStoredSequence = journal.append(change) { image() }
            if share && sharesChanges { store.share(change) }
        } else if share {
            lastStoredSequence = store.append(change) { export() }
        }
    }

    /// The persistent state in compact form, for a snapshot: the slot tables copied a bounded
    /// slice at a time, so the accept path never waits for a whole-table copy.
    func image() -> StateImage {
        StateImage(tables: gate.image(), reasons: reasons.all, users: recentUsers.all, marks: currentMarks(now: clock.nowMilliseconds))
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
}
