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

    /// Handles a store's notice: another node's change, or a failure of its background work.
    func receive(_ notice: GreylistStoreNotice) {
        switch notice {
        case .remoteChange(let change):
            applyRemote(change)
        case .failed(let error):
            events?(.storageFailed(error.description))
        case .remoteFailure(let failure):
            applyRemote(failure)
        case .stateWanted:
            store?.share(state: export())
        case .linkChanged(let available, let detail):
            events?(.sharedStoreChanged(available: available, detail: detail))
        case .warning(let text):
            events?(.storageWarning(text))
        }
    }

    /// Keeps another node's ended rule ban as this key's escalation history, unless this node
    /// remembers as many bans of the key or more: a bot banned on one node and back hours later
    /// on another is banned longer there too. No event (nothing is refused).
    private func rememberRemoteHistory(_ entry: BanEntry, now: Int64) {
        guard case .rule = entry.reason,
              now < entry.expiresAtMilliseconds.addingClamped(configuration.escalation.forgetAfter.wholeMilliseconds) else { return }
        if let slot = gate.slot(entry.network), slot.expiresAt > now || slot.banCount >= entry.banCount { return }
        var slot = BanSlot(key: entry.network.address.bits, expiresAt: entry.expiresAtMilliseconds, bannedAt: min(entry.bannedAtMilliseconds, now),
                           banCount: entry.banCount, reason: reasons.index(entry.reason), isRuleBan: true)
        slot.expiryReported = true
        let (_, count) = gate.upsert(entry.network, slot)
        persist(.banned(entry), share: false)
        if count > configuration.limits.maxBans {
            evictBans(toFit: configuration.limits.maxBans)
        }
    }

    /// Counts a failure another node counted, as if it happened here: a bot that alternates
    /// nodes trips the threshold at the same count. When it completes the count here (both
    /// nodes counted at once), this node bans. Failures for rules this node does not have, for
    /// keys of another prefix length, or for allowlisted or banned keys are ignored.
    private func applyRemote(_ failure: SharedFailure) {
        let now = clock.nowMilliseconds
        let key = failure.key
        guard let compiled = rules.first(where: { $0.rule.name == failure.rule }),
              key == banKey(for: key.address),
              !configuration.allowlist.contains(where: { $0.contains(key.address) }) else { return }
        let slot = gate.slot(key)
        if let slot, slot.expiresAt > now { return }
        let rule = compiled.rule
        let at = min(WallClock.milliseconds(failure.at), now)
        guard at > now - rule.window.wholeMilliseconds else { return }
        let (count, evicted) = trackers.update(key, make: AddressTracker.init) { tracker -> Int in
            var recent = (tracker.failures[rule.name] ?? []).filter { $0.at > now - rule.window.wholeMilliseconds }
            recent.append(AddressTracker.Failure(at: at, account: failure.account))
            recent.sort { $0.at < $1.at }
            if recent.count > rule.maxFailures { recent.removeFirst(recent.count - rule.maxFailures) }
            tracker.failures[rule.name] = recent
            return recent.count
        }
        reportEvicted(counters: evicted)
        counters.remoteFailures += 1
        events?(.sharedFailureCounted(failure, count: count))
        if count >= rule.maxFailures {
            _ = banByRule(key, previous: slot, rule: rule, user: failure.account, now: now)
        }
    }

    /// Why another node's change is refused here, or `nil` when it is within what this node
    /// could have written itself: bans and unbans no wider than its range prefix, trust only for
    /// exactly one key. (The cluster's key authenticates records; this bounds what a node that
    /// holds it, or a replayed record, can do.)
    func remoteScopeProblem(_ change: GreylistChange) -> String? {
        func widest(_ network: IPNetwork) -> Int {
            network.address.isIPv4 ? min(configuration.prefixLength.ipv4, configuration.ranges.ipv4PrefixLength)
                : min(configuration.prefixLength.ipv6, configuration.ranges.ipv6PrefixLength)
        }
        switch change {
        case .banned(let entry) where entry.network.prefixLength < widest(entry.network):
            return "a ban of \(entry.network) is wider than /\(widest(entry.network))"
        case .unbanned(let network) where network.prefixLength < widest(network):
            return "an unban of \(network) is wider than /\(widest(network))"
        case .trusted(let key, _) where key != banKey(for: key.address), .distrusted(let key) where key != banKey(for: key.address):
            return "trust for \(key) is not one key (/\(banKey(for: key.address).prefixLength))"
        case .accountTrusted(let mark) where mark.network != banKey(for: mark.network.address),
             .loginsBlocked(let mark) where mark.network != banKey(for: mark.network.address):
            return "a mark for \(mark.network) is not one key (/\(banKey(for: mark.network.address).prefixLength))"
        case .nameMarked, .softTrustChanged:
            return "\(change) is not shared between nodes"
        default:
            return nil
        }
    }

    /// Applies a change another node made (delivered by a shared store); it is not stored again.
    private func applyRemote(_ change: GreylistChange) {
        if let problem = remoteScopeProblem(change) {
            counters.remoteRefused += 1
            if counters.remoteRefused == 1 {
                events?(.storageWarning("refused a change from another node: \(problem) (reported once; counted in statistics)"))
            }
            return
        }
        switch change {
        case .banned(let entry):
            // Another node's record is clamped as a stored one is (see restore), and no longer
            // than `limits.maxRemoteBan` whatever its reason.
            let now = clock.nowMilliseconds
            var expiresAt = min(entry.expiresAtMilliseconds, now.addingClamped(configuration.limits.maxRemoteBan.wholeMilliseconds))
            if case .rule = entry.reason {
                expiresAt = min(expiresAt, now.addingClamped(configuration.escalation.maxBan.wholeMilliseconds))
            }
            guard expiresAt > now else {
                rememberRemoteHistory(entry, now: now)
                return
            }
            let bannedAt = min(entry.bannedAtMilliseconds, now)
            if let slot = gate.slot(entry.network), slot.expiresAt == expiresAt, slot.bannedAt == bannedAt,
               slot.banCount == entry.banCount {
                return  // Already known (this node's own ban read back, or a second delivery).
            }
            place(entry.network, reason: entry.reason, user: entry.user, bannedAt: bannedAt,
                  expiresAt: expiresAt, banCount: entry.banCount, share: false)
        case .removed(let key):
            gate.remove(key)
            recentUsers[key] = nil
            persist(change, share: false)
        case .unbanned(let network):
            let now = clock.nowMilliseconds
            let lifted = gate.sweep({ key, _ in !network.contains(key) })
            for (key, slot) in lifted {
                recentUsers[key] = nil
                if slot.expiresAt > now { events?(.unbanned(entry(key, slot))) }
            }
            trackers.removeAll { key, _ in network.contains(key) }
            if !lifted.isEmpty { persist(change, share: false) }
        case .trusted(let key, let until):
            let latest = clock.nowMilliseconds.addingClamped(configuration.trust.memory.wholeMilliseconds)
            let until = min(WallClock.milliseconds(until), latest)
            guard until > clock.nowMilliseconds, gate.trustedUntil(key) != until else { return }
            gate.trust(key, until: until)
            persist(.trusted(key, until: WallClock.date(until)), share: false)
        case .distrusted(let key):
            if gate.distrust(key) { persist(change, share: false) }
        case .accountTrusted, .loginsBlocked, .nameMarked, .softTrustChanged:
            applyRemoteMark(change)
        }
    }
}
