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
        let record = BanRecord(reason: .manual(reason), user: nil, bannedAt: now,
                               expiresAt: now.addingClamped(duration.wholeMilliseconds), banCount: 1)
        let placed = place(network, record)
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
        let lifted = bans.keys.filter { network.contains($0) }.sorted { $0.prefixLength > $1.prefixLength }
        var entries: [BanEntry] = []
        for key in lifted {
            let lifted = entry(key, bans.removeValue(forKey: key)!, refusedCount: gate.remove(key))
            entries.append(lifted)
            events?(.unbanned(lifted))
        }
        trackers.removeAll { key, _ in network.contains(key) }
        persist(.unbanned(network))
        await acknowledgeStored()
        return entries
    }

    /// The bans in force, soonest expiry first.
    ///
    /// - Returns: One entry per banned key, with its refused-connection count.
    public func list() -> [BanEntry] {
        let now = clock.nowMilliseconds
        return bans.filter { $0.value.expiresAt > now }
            .map { entry($0.key, $0.value) }
            .sorted { ($0.expiresAt, $0.network) < ($1.expiresAt, $1.network) }
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
        let now = clock.nowMilliseconds
        snapshot.activeBans = bans.values.reduce(0) { $0 + ($1.expiresAt > now ? 1 : 0) }
        snapshot.trackedAddresses = trackers.count
        return snapshot
    }

    /// Removes bans that have expired and forgets failure counters and histories that no longer
    /// matter; emits ``GreylistEvent/expired(_:)`` per ban. ``run()`` calls it every
    /// `cleanupInterval`; a host without `run()` calls it itself.
    ///
    /// Expired bans already stopped refusing at their expiry instant; this only frees memory.
    ///
    /// - Returns: The bans removed.
    @discardableResult
    public func purgeExpired() -> [BanEntry] {
        let now = clock.nowMilliseconds
        var removed: [BanEntry] = []
        while let top = expiries.minimum, top.expiresAt <= now {
            expiries.removeMinimum()
            guard let record = bans[top.network], record.expiresAt == top.expiresAt else { continue }
            bans[top.network] = nil
            let expired = entry(top.network, record, refusedCount: gate.remove(top.network))
            removed.append(expired)
            events?(.expired(expired))
        }
        counters.expired += removed.count
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        let windows = Dictionary(configuration.rules.map { ($0.name, $0.window.wholeMilliseconds) }) { first, _ in first }
        trackers.removeAll { _, tracker in
            let historyLive = tracker.banCount > 0 && now < tracker.lastBanEnd.addingClamped(forgetAfter)
            let failuresLive = tracker.failures.contains { name, instants in
                guard let window = windows[name], let last = instants.last else { return false }
                return last > now - window
            }
            return !historyLive && !failuresLive
        }
        return removed
    }

    /// Applies a new configuration without losing bans or counters.
    ///
    /// Counters of rules that no longer exist are dropped; tables shrink to new, lower caps by
    /// the usual eviction. An invalid configuration changes nothing.
    ///
    /// - Parameter newConfiguration: The configuration to run from now on.
    /// - Throws: ``GreylistError/invalidConfiguration(_:)``; the old configuration stays in force.
    ///   The state directory is chosen at start-up: a new `stateDirectory` takes effect on restart.
    public func apply(_ newConfiguration: Configuration) async throws(GreylistError) {
        let compiled = try CompiledRule.compile(newConfiguration)
        configuration = newConfiguration
        rules = compiled
        gate.configure(allowlist: newConfiguration.allowlist, dryRun: newConfiguration.dryRun)
        let names = Set(newConfiguration.rules.map(\.name))
        trackers.forEachTracker { tracker in
            tracker.failures = tracker.failures.filter { names.contains($0.key) }
        }
        trackers.capacity = newConfiguration.limits.maxTrackedAddresses
        reportEvicted(counters: trackers.evict(toFit: trackers.capacity))
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

    // MARK: - Shared by the verbs

    /// Places a ban, stores it, and reports it.
    func place(_ key: IPNetwork, _ record: BanRecord) -> BanEntry {
        let placed = install(key, record, persist: true)
        events?(.banned(placed, dryRun: configuration.dryRun))
        return placed
    }

    /// Puts a ban in the actor and the accept gate, evicting if the table is full.
    @discardableResult
    func install(_ key: IPNetwork, _ record: BanRecord, persist shouldPersist: Bool) -> BanEntry {
        if bans[key] == nil {
            evictBans(toFit: configuration.limits.maxBans - 1)
        }
        bans[key] = record
        expiries.insert(ExpiryMark(expiresAt: record.expiresAt, network: key))
        if expiries.count > 2 * bans.count + 1_024 {
            expiries.rebuild(bans.map { ExpiryMark(expiresAt: $0.value.expiresAt, network: $0.key) })
        }
        gate.insert(key, expiresAt: record.expiresAt)
        let installed = entry(key, record)
        if shouldPersist { persist(.banned(installed)) }
        return installed
    }

    /// Removes the soonest-expiring bans (expired ones first, silently as expiries) until at most `limit` remain.
    func evictBans(toFit limit: Int) {
        guard bans.count > limit else { return }
        purgeExpired()
        while bans.count > max(limit, 0), let top = expiries.removeMinimum() {
            guard let record = bans[top.network], record.expiresAt == top.expiresAt else { continue }
            bans[top.network] = nil
            let evicted = entry(top.network, record, refusedCount: gate.remove(top.network))
            counters.bansEvicted += 1
            persist(.removed(top.network))
            events?(.banEvicted(evicted))
        }
    }

    func entry(_ key: IPNetwork, _ record: BanRecord, refusedCount: Int? = nil) -> BanEntry {
        BanEntry(
            network: key, reason: record.reason, user: record.user,
            bannedAt: WallClock.date(record.bannedAt), expiresAt: WallClock.date(record.expiresAt),
            banCount: record.banCount, refusedCount: refusedCount ?? gate.refusedCount(of: key)
        )
    }
}
