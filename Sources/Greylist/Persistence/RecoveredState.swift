#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// State rebuilt from a snapshot and journals, already in the accept gate's compact form: the
/// same hash tables of 40-byte slots, so start-up installs them as they are (no per-record
/// allocation, no second hash table, no sort).
///
/// A slot whose reason is ``historyReason`` is a key's escalation history only (an evicted rule
/// ban, or a `history` record); any other rule slot also serves as its key's history once it
/// has expired.
struct RecoveredState {
    /// Bans and histories, one table per address family and prefix length.
    var bans: [PrefixTable] = []
    /// Trusted keys; a slot's `expiresAt` is the end of its trust.
    var trust: [PrefixTable] = []
    var reasons = ReasonTable()
    let historyReason: UInt16
    /// Usernames of the most recent rule bans.
    var users = RecentUsers(capacity: RecentUsers.standardCapacity)
    /// Accounts trusted on keys, spent guess budgets, bots' names, soft-trust additions.
    var marks = StoredMarks()

    init() {
        historyReason = reasons.index(.rule("(history)"))
    }

    /// The state a store's public snapshot describes (for stores other than the journal).
    init(_ snapshot: GreylistSnapshot) {
        self.init()
        for history in snapshot.histories {
            placeHistory(history.network, banCount: history.banCount, end: WallClock.milliseconds(history.lastBanEnd))
        }
        for ban in snapshot.bans {
            placeBan(ban.network, reason: ban.reason, user: ban.user, bannedAt: ban.bannedAtMilliseconds,
                     expiresAt: ban.expiresAtMilliseconds, banCount: ban.banCount)
        }
        for trusted in snapshot.trusted {
            Self.upsert(&trust, trusted.network, BanSlot(key: trusted.network.address.bits, expiresAt: WallClock.milliseconds(trusted.until),
                                                         bannedAt: 0, banCount: 0, reason: 0))
        }
        marks = StoredMarks(snapshot)
    }

    mutating func placeBan(_ key: IPNetwork, reason: BanEntry.Reason, user: String?, bannedAt: Int64, expiresAt: Int64, banCount: Int) {
        let isRule: Bool
        if case .rule = reason { isRule = true } else { isRule = false }
        Self.upsert(&bans, key, BanSlot(key: key.address.bits, expiresAt: expiresAt, bannedAt: bannedAt, banCount: banCount,
                                        reason: reasons.index(reason), isRuleBan: isRule))
        users[key] = isRule ? user : nil
    }

    mutating func placeHistory(_ key: IPNetwork, banCount: Int, end: Int64) {
        Self.upsert(&bans, key, BanSlot(key: key.address.bits, expiresAt: end, bannedAt: end, banCount: banCount,
                                        reason: historyReason, isRuleBan: true))
        users[key] = nil
    }

    /// Drops the ban of exactly `key`; a rule ban's slot stays as the key's history.
    mutating func removeBan(_ key: IPNetwork) {
        guard let table = bans.firstIndex(where: { $0.matches(key) }), let index = bans[table].index(of: key.address.bits) else { return }
        if bans[table][index].isRuleBan {
            bans[table][index].reason = historyReason
        } else {
            bans[table].remove(at: index)
        }
        users[key] = nil
    }

    /// Forgets every ban and history inside `network`.
    mutating func unban(_ network: IPNetwork) {
        for table in bans.indices {
            // The shape only: a copy of the table would make the sweep copy its slots.
            let familyPrefixLength = bans[table].familyPrefixLength
            func key(_ slot: BanSlot) -> IPNetwork {
                IPNetwork(unchecked: IPAddress(bits: slot.key), prefixLength: familyPrefixLength)
            }
            for slot in bans[table].sweep({ !network.contains(key($0)) }) {
                users[key(slot)] = nil
            }
        }
        bans.removeAll { $0.count == 0 }
    }

    mutating func setTrust(_ key: IPNetwork, until: Int64?) {
        if let until {
            Self.upsert(&trust, key, BanSlot(key: key.address.bits, expiresAt: until, bannedAt: 0, banCount: 0, reason: 0))
        } else if let table = trust.firstIndex(where: { $0.matches(key) }), let index = trust[table].index(of: key.address.bits) {
            trust[table].remove(at: index)
        }
    }

    static func upsert(_ tables: inout [PrefixTable], _ key: IPNetwork, _ slot: BanSlot) {
        if let table = tables.firstIndex(where: { $0.matches(key) }) {
            tables[table].upsert(slot)
        } else {
            var table = PrefixTable(isIPv4: key.address.isIPv4, widePrefixLength: key.widePrefixLength)
            table.upsert(slot)
            tables.append(table)
        }
    }

    /// Adds a table read whole from a snapshot: taken as is when no table of its prefix exists
    /// yet (the usual case), else merged slot by slot.
    mutating func add(_ table: PrefixTable, isTrust: Bool) {
        if isTrust {
            Self.merge(table, into: &trust)
        } else {
            Self.merge(table, into: &bans)
        }
    }

    private static func merge(_ table: PrefixTable, into tables: inout [PrefixTable]) {
        guard let existing = tables.firstIndex(where: { $0.isIPv4 == table.isIPv4 && $0.widePrefixLength == table.widePrefixLength }) else {
            tables.append(table)
            return
        }
        for slot in table.slots where !slot.isEmpty { tables[existing].upsert(slot) }
    }

    /// The public form, as ``GreylistStore/load()`` returns it: expired entries included; a
    /// rule ban that ended by `now` is listed as a history.
    func snapshot(now: Int64) -> GreylistSnapshot {
        var result = GreylistSnapshot()
        for table in bans {
            for slot in table.slots where !slot.isEmpty {
                let key = table.network(slot)
                if slot.reason == historyReason || (slot.isRuleBan && slot.expiresAt <= now) {
                    result.histories.append(BanHistory(network: key, banCount: slot.banCount, lastBanEnd: WallClock.date(slot.expiresAt)))
                } else {
                    result.bans.append(BanEntry(network: key, reason: reasons[slot.reason], user: users[key],
                                                bannedAtMilliseconds: slot.bannedAt, expiresAtMilliseconds: slot.expiresAt,
                                                banCount: slot.banCount, refusedCount: Int(slot.refusedCount)))
                }
            }
        }
        for table in trust {
            for slot in table.slots where !slot.isEmpty {
                result.trusted.append(TrustedKey(network: table.network(slot), until: WallClock.date(slot.expiresAt)))
            }
        }
        result.bans.sort { $0.network < $1.network }
        result.histories.sort { $0.network < $1.network }
        result.trusted.sort { $0.network < $1.network }
        marks.fill(&result)
        return result
    }
}
