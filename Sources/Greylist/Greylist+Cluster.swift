#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Other nodes' work, delivered by a shared store: their changes applied within the scope this
/// node could have written itself, their counted failures counted here, their ended bans kept as
/// history, and the store's own notices.
extension Greylist {
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
        let (count, evicted) = trackers.update(key, make: AddressTracker.init) { tracker in
            tracker.count(rule.name, at: at, account: failure.account, window: rule.window.wholeMilliseconds, keep: rule.maxFailures, now: now)
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

    /// Applies another node's account trust or spent guess budget, clamped as a stored one is;
    /// not stored again for sharing.
    func applyRemoteMark(_ change: GreylistChange) {
        let now = clock.nowMilliseconds
        switch change {
        case .accountTrusted(let mark):
            guard configuration.trust.memory > .zero else { return }
            let until = min(WallClock.milliseconds(mark.until), now.addingClamped(configuration.trust.memory.wholeMilliseconds))
            guard until > now, (sharedAddresses.accounts[mark.network]?[mark.account] ?? 0) < until else { return }
            sharedAddresses.noteLogin(mark.account, on: mark.network, until: until, now: now)
            persist(.accountTrusted(AccountMark(network: mark.network, account: mark.account, until: WallClock.date(until))), share: false)
        case .loginsBlocked(let mark):
            let until = min(WallClock.milliseconds(mark.until), now.addingClamped(configuration.trust.guessWindow.wholeMilliseconds))
            let pair = SharedAddresses.Pair(key: mark.network, account: mark.account)
            let extended = until > now && blockedLogins.withLock { table in
                guard (table.until[pair] ?? 0) < until else { return false }
                table.block(pair, until: until, now: now)
                return true
            }
            guard extended else { return }
            persist(.loginsBlocked(AccountMark(network: mark.network, account: mark.account, until: WallClock.date(until))), share: false)
        default:
            return
        }
    }
}
