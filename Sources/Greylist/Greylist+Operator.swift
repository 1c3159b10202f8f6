#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension Greylist {
    /// Bans a network by hand, replacing any ban of exactly that network.
    ///
    /// Addresses on the allowlist inside the network are still accepted.
    ///
    /// - Parameters:
    ///   - network: The CIDR to refuse, any prefix length.
    ///   - duration: How long; must be longer than zero.
    ///   - reason: Shown in listings and events.
    /// - Returns: The ban placed (with a store: once it is stored).
    /// - Throws: ``GreylistError/invalidDuration(_:reason:)`` for a duration not above zero.
    @discardableResult
    public func ban(_ network: IPNetwork, for duration: Duration, reason: String) async throws(GreylistError) -> BanEntry {
        guard duration > .zero else {
            throw .invalidDuration("\(duration)", reason: "a ban must last longer than zero")
        }
        let now = clock.nowMilliseconds
        counters.manualBans += 1
        let placed = place(network, reason: .manual(reason), user: nil, bannedAt: now,
                           expiresAt: now.addingClamped(duration.wholeMilliseconds), banCount: 1)
        await acknowledgeStored()
        return placed
    }

    /// Lifts every ban inside `network` (a /32 lifts one address; `0.0.0.0/0` every IPv4 ban) and
    /// forgets those keys' failure counters and escalation history.
    ///
    /// - Parameter network: The CIDR to clear.
    /// - Returns: The bans lifted, most specific first (with a store: once the lift is stored,
    ///   so a restart does not bring them back).
    @discardableResult
    public func unban(_ network: IPNetwork) async -> [BanEntry] {
        let now = clock.nowMilliseconds
        let removed = gate.sweep { key, _ in !network.contains(key) }
        let lifted = removed.filter { $0.1.expiresAt > now }
            .map { entry($0.0, $0.1) }
            .sorted { ($0.network.prefixLength, $0.network) > ($1.network.prefixLength, $1.network) }
        for (key, _) in removed { recentUsers[key] = nil }
        for entry in lifted { events?(.unbanned(entry)) }
        trackers.removeAll { key, _ in network.contains(key) }
        persist(.unbanned(network))
        await acknowledgeStored()
        return lifted
    }

    /// The keys trusted now, soonest end first.
    ///
    /// - Parameter network: Only keys inside it; `nil` for all.
    /// - Returns: Each trusted key with the end of its trust.
    public func trusted(inside network: IPNetwork? = nil) -> [TrustedKey] {
        let now = clock.nowMilliseconds
        return gate.allTrusted()
            .filter { key, until in until > now && (network.map { $0.contains(key) } ?? true) }
            .map { TrustedKey(network: $0.0, until: WallClock.date($0.1)) }
            .sorted { ($0.until, $0.network) < ($1.until, $1.network) }
    }

    /// Takes away the trust of every key inside `network` (on every node of a cluster): their
    /// rule bans become hard again, and their next login must earn trust anew.
    ///
    /// - Parameter network: The keys to distrust (`0.0.0.0/0`: every IPv4 key).
    /// - Returns: The keys whose trust was taken away (with a store: once that is stored).
    @discardableResult
    public func revokeTrust(_ network: IPNetwork) async -> [TrustedKey] {
        let revoked = trusted(inside: network)
        for trusted in revoked where gate.distrust(trusted.network) {
            persist(.distrusted(trusted.network))
            counters.trustRevoked += 1
            events?(.trustRevoked(trusted.network, accounts: 0))
        }
        await acknowledgeStored()
        return revoked
    }

    /// The bans in force, soonest expiry first; rule bans on trusted keys are marked soft.
    ///
    /// At a million bans, pass a `limit` (and a network to look into): the table is scanned a
    /// slice at a time through a bounded heap, so neither the accept path nor memory pays for
    /// the bans not shown.
    ///
    /// - Parameters:
    ///   - limit: The most entries to return (the soonest-expiring); `nil` for all.
    ///   - network: Only bans that overlap it: bans inside it, and bans that cover it.
    /// - Returns: One entry per banned key, with its refused-connection count.
    /// - Complexity: O(n log k) for n slots and a limit of k.
    public func list(limit: Int? = nil, overlapping network: IPNetwork? = nil) -> [BanEntry] {
        let now = clock.nowMilliseconds
        let matches = gate.soonestExpiring(max(limit ?? Int.max, 0)) { key, slot in
            slot.expiresAt > now && (network.map { $0.contains(key) || key.contains($0) } ?? true)
        }
        return matches.map { entry($0.0, $0.1, now: now) }
            .sorted { ($0.expiresAt, $0.network) < ($1.expiresAt, $1.network) }
    }

    /// How many bans are in force inside or over `network` (all bans when `nil`), counted a
    /// slice at a time: what a limited ``list(limit:overlapping:)`` left out.
    ///
    /// - Parameter network: The network to look into.
    /// - Returns: The number of bans in force that overlap it.
    public func countBans(overlapping network: IPNetwork? = nil) -> Int {
        let now = clock.nowMilliseconds
        var count = 0
        gate.sweep { key, slot in
            if slot.expiresAt > now && (network.map { $0.contains(key) || key.contains($0) } ?? true) { count += 1 }
            return true
        }
        return count
    }

    /// Counters since creation and the current table sizes.
    ///
    /// - Returns: A snapshot of the statistics.
    public func statistics() -> GreylistStatistics {
        var snapshot = counters
        let gateCounters = gate.counters
        snapshot.accepted = gateCounters.accepted
        snapshot.refused = gateCounters.refused
        snapshot.wouldHaveRefused = gateCounters.wouldHaveRefused
        snapshot.softAccepted = gateCounters.softAccepted
        snapshot.banExtensions = gateCounters.extensions
        snapshot.activeBans = gate.liveBans
        snapshot.trustedKeys = gate.trustedCount
        snapshot.trackedAddresses = trackers.count
        snapshot.rules = rules.count
        return snapshot
    }

    /// Removes bans that have expired (reporting each once, as ``GreylistEvent/expired(_:)``),
    /// escalation histories past `forgetAfter`, and failure counters past their windows.
    /// ``run()`` calls it every `cleanupInterval`; a host without `run()` calls it itself.
    ///
    /// Expired bans already stopped refusing at their expiry instant; this only frees memory.
    ///
    /// - Returns: The bans that expired since the last purge.
    /// - Complexity: O(n) over the ban table, holding the accept path's lock for that pass.
    @discardableResult
    public func purgeExpired() -> [BanEntry] {
        let now = clock.nowMilliseconds
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        var expired: [BanEntry] = []
        var extended: [BanEntry] = []
        // Noted under the gate's lock, a slice at a time; moved to the lists above between slices.
        var sliceExpired: [(IPNetwork, BanSlot)] = []
        var sliceExtended: [(IPNetwork, BanSlot)] = []
        let removed = gate.sweep({ key, slot in
            if slot.expiresAt <= now && !slot.expiryReported {
                sliceExpired.append((key, slot))
                slot.expiryReported = true
            }
            if slot.extendedSinceStored && slot.expiresAt > now {
                // Refused connections lengthened it on the accept path: store the new expiry.
                sliceExtended.append((key, slot))
                slot.extendedSinceStored = false
            }
            // A rule ban's slot stays as the key's escalation history until forgetAfter.
            return slot.expiresAt > now || (reasons.isRule(slot.reason) && now < slot.expiresAt.addingClamped(forgetAfter))
        }, afterEachSlice: {
            expired += sliceExpired.map { entry($0.0, $0.1) }
            extended += sliceExtended.map { entry($0.0, $0.1) }
            sliceExpired.removeAll(keepingCapacity: true)
            sliceExtended.removeAll(keepingCapacity: true)
        })
        for (key, _) in removed { recentUsers[key] = nil }
        for entry in extended { persist(.banned(entry)) }
        gate.purgeTrust(now: now, limit: configuration.trust.maxTrustedKeys)
        counters.expired += expired.count
        for entry in expired { events?(.expired(entry)) }
        var windows = Dictionary(configuration.rules.map { ($0.name, $0.window.wholeMilliseconds) }) { first, _ in first }
        windows[Self.sprayingRuleName] = configuration.spraying.window.wholeMilliseconds
        let revokeWindow = configuration.trust.revokeWindow.wholeMilliseconds
        trackers.removeAll { _, tracker in
            !tracker.failures.contains { name, failures in
                guard let window = windows[name], let last = failures.last else { return false }
                return last.at > now - window
            } && !tracker.wrongPasswordAccounts.values.contains { $0 > now - revokeWindow }
        }
        let sprayWindow = configuration.spraying.window.wholeMilliseconds
        accounts.removeAll { _, tracker in
            tracker.underAttackUntil <= now && !tracker.sources.values.contains { $0 > now - sprayWindow }
        }
        let rangeWindow = configuration.ranges.window.wholeMilliseconds
        rangeTrackers.removeAll { _, tracker in !tracker.keys.values.contains { $0 > now - rangeWindow } }
        return expired
    }

    /// Applies a new configuration without losing bans or counters.
    ///
    /// Counters of rules that no longer exist are dropped; tables shrink to new, lower caps by
    /// the usual eviction. An invalid configuration changes nothing.
    ///
    /// - Parameter newConfiguration: The configuration to run from now on.
    /// - Throws: ``GreylistError/invalidConfiguration(_:)``; the old configuration stays in force.
    ///   The state directory is chosen at start-up: a new `stateDirectory` takes effect on restart.
    public func apply(_ newConfiguration: GreylistConfiguration) async throws(GreylistError) {
        let compiled = try CompiledRule.compile(newConfiguration)
        configuration = newConfiguration
        rules = compiled
        configureGate()
        blockedLogins.withLock { $0.prefixLength = (newConfiguration.prefixLength.ipv4, newConfiguration.prefixLength.ipv6) }
        sharedAddresses.accounts.capacity = newConfiguration.trust.maxTrustedKeys
        _ = sharedAddresses.accounts.evict(toFit: sharedAddresses.accounts.capacity)
        let names = Set(newConfiguration.rules.map(\.name) + [Self.sprayingRuleName])
        trackers.forEachValue { tracker in
            tracker.failures = tracker.failures.filter { names.contains($0.key) }
        }
        trackers.capacity = newConfiguration.limits.maxTrackedAddresses
        reportEvicted(counters: trackers.evict(toFit: trackers.capacity))
        accounts.capacity = newConfiguration.spraying.maxTrackedAccounts
        _ = accounts.evict(toFit: accounts.capacity)
        rangeTrackers.capacity = newConfiguration.ranges.maxTrackedRanges
        _ = rangeTrackers.evict(toFit: rangeTrackers.capacity)
        unknownNames.capacity = newConfiguration.unknownNames.maxTrackedNames
        _ = unknownNames.evict(toFit: unknownNames.capacity)
        if newConfiguration.trust.memory == .zero {
            for (key, _) in gate.allTrusted() where gate.distrust(key) { persist(.distrusted(key)) }
        }
        evictBans(toFit: newConfiguration.limits.maxBans)
        events?(.reconfigured(rules: newConfiguration.rules.map(\.name), dryRun: newConfiguration.dryRun))
        await acknowledgeStored()
    }

    /// Purges expired entries every `cleanupInterval` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.cleanupInterval)
            } catch {
                return
            }
            purgeExpired()
        }
    }
}
