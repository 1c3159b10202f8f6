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
        let bansNow = bans.filter { $0.value.expiresAt > now }
        let histories = trackers.entries.compactMap { key, tracker -> BanHistory? in
            guard bansNow[key] == nil, tracker.banCount > 0, now < tracker.lastBanEnd.addingClamped(forgetAfter) else { return nil }
            return BanHistory(network: key, banCount: tracker.banCount, lastBanEnd: WallClock.date(tracker.lastBanEnd))
        }
        return GreylistSnapshot(
            bans: bansNow.map { entry($0.key, $0.value) }.sorted { $0.network < $1.network },
            histories: histories.sorted { $0.network < $1.network }
        )
    }

    /// The tables re-armed from stored state at start-up: bans that have not expired, with their
    /// wall-clock expiry (past `maxBans`, the latest-expiring are kept), and escalation histories
    /// not yet forgotten. Fills the accept gate.
    static func restored(_ snapshot: GreylistSnapshot, configuration: Configuration, now: Int64, gate: AcceptGate)
        -> (bans: [IPNetwork: BanRecord], expiries: MinimumHeap<ExpiryMark>, trackers: TrackerTable) {
        let forgetAfter = configuration.escalation.forgetAfter.wholeMilliseconds
        var trackers = TrackerTable(capacity: configuration.limits.maxTrackedAddresses)
        func remember(_ key: IPNetwork, _ banCount: Int, _ lastBanEnd: Int64) {
            guard now < lastBanEnd.addingClamped(forgetAfter) else { return }
            _ = trackers.update(key) { tracker in
                if lastBanEnd >= tracker.lastBanEnd {
                    tracker.banCount = banCount
                    tracker.lastBanEnd = lastBanEnd
                }
            }
        }
        for history in snapshot.histories {
            remember(history.network, history.banCount, WallClock.milliseconds(history.lastBanEnd))
        }
        var bans: [IPNetwork: BanRecord] = [:]
        for ban in snapshot.bans {
            let record = BanRecord(reason: ban.reason, user: ban.user, bannedAt: WallClock.milliseconds(ban.bannedAt),
                                   expiresAt: WallClock.milliseconds(ban.expiresAt), banCount: ban.banCount)
            if case .rule = ban.reason { remember(ban.network, ban.banCount, record.expiresAt) }
            if record.expiresAt > now { bans[ban.network] = record }
        }
        if bans.count > configuration.limits.maxBans {
            let kept = bans.sorted { $0.value.expiresAt > $1.value.expiresAt }.prefix(configuration.limits.maxBans)
            bans = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
        var expiries = MinimumHeap<ExpiryMark>()
        expiries.rebuild(bans.map { ExpiryMark(expiresAt: $0.value.expiresAt, network: $0.key) })
        for (key, record) in bans { gate.insert(key, expiresAt: record.expiresAt) }
        return (bans, expiries, trackers)
    }

    /// Waits until every change is stored, then closes a ``JournalStore`` so another process (or
    /// a restarted server in this one) can open the state directory. Changes after this are not stored.
    public func closeStore() async {
        await acknowledgeStored()
        await (store as? JournalStore)?.close()
    }

    /// Queues a change with the store, in the same turn as the state change it describes.
    func persist(_ change: GreylistChange) {
        guard let store else { return }
        lastStoredSequence = store.append(change)
    }

    /// Waits until every change made so far is stored, then compacts if the store asks for it.
    /// A failure is reported and remembered: the next compaction rewrites the whole state.
    func acknowledgeStored() async {
        guard let store, lastStoredSequence > 0 else { return }
        do {
            try await store.waitUntilStored(lastStoredSequence)
        } catch {
            events?(.storageFailed(error.description))
            snapshotOwed = true
        }
        compactIfDue()
    }

    /// Starts a compaction in the background when the store wants one (or owes a full snapshot).
    func compactIfDue() {
        guard let store, !compacting, store.wantsCompaction || snapshotOwed else { return }
        compacting = true
        // The rotation point and the state it covers are taken in one actor turn.
        let point = store.beginCompaction()
        let snapshot = export()
        Task {
            do {
                try await store.finishCompaction(point, snapshot: snapshot)
                snapshotOwed = false
            } catch {
                events?(.storageFailed("\(error)"))
                snapshotOwed = true
            }
            compacting = false
        }
    }

    /// Applies a change another node made (delivered by a shared store); it is not stored again.
    func applyRemote(_ change: GreylistChange) {
        switch change {
        case .banned(let entry):
            let record = BanRecord(reason: entry.reason, user: entry.user, bannedAt: WallClock.milliseconds(entry.bannedAt),
                                   expiresAt: WallClock.milliseconds(entry.expiresAt), banCount: entry.banCount)
            guard record.expiresAt > clock.nowMilliseconds else { return }
            let placed = install(entry.network, record, persist: false)
            events?(.banned(placed, dryRun: configuration.dryRun))
        case .removed(let key):
            if bans.removeValue(forKey: key) != nil {
                gate.remove(key)
            }
        case .unbanned(let network):
            for key in bans.keys where network.contains(key) {
                let lifted = entry(key, bans.removeValue(forKey: key)!, refusedCount: gate.remove(key))
                events?(.unbanned(lifted))
            }
            trackers.removeAll { key, _ in network.contains(key) }
        }
    }
}
