#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the judgment remembers beyond bans and key trust, in the form it is stored and rebuilt:
/// accounts trusted on keys, spent guess budgets, bots' names, and the operator's soft-trust
/// additions. Times are milliseconds since 1970.
struct StoredMarks: Sendable, Equatable {
    var trustedAccounts: [SharedAddresses.Pair: Int64] = [:]
    var blockedLogins: [SharedAddresses.Pair: Int64] = [:]
    var names: [String: Int64] = [:]
    /// In the order they were added.
    var softTrust: [IPNetwork] = []

    var isEmpty: Bool {
        trustedAccounts.isEmpty && blockedLogins.isEmpty && names.isEmpty && softTrust.isEmpty
    }

    var count: Int {
        trustedAccounts.count + blockedLogins.count + names.count + softTrust.count
    }

    init() {}

    /// The marks a public snapshot lists.
    init(_ snapshot: GreylistSnapshot) {
        for mark in snapshot.trustedAccounts {
            trustedAccounts[SharedAddresses.Pair(key: mark.network, account: mark.account)] = WallClock.milliseconds(mark.until)
        }
        for mark in snapshot.blockedLogins {
            blockedLogins[SharedAddresses.Pair(key: mark.network, account: mark.account)] = WallClock.milliseconds(mark.until)
        }
        for mark in snapshot.markedNames {
            names[mark.name] = WallClock.milliseconds(mark.until)
        }
        softTrust = snapshot.softTrust
    }

    /// Applies one change; `false` for a change that is not a mark.
    mutating func apply(_ change: GreylistChange) -> Bool {
        switch change {
        case .accountTrusted(let mark):
            trustedAccounts[SharedAddresses.Pair(key: mark.network, account: mark.account)] = WallClock.milliseconds(mark.until)
        case .loginsBlocked(let mark):
            blockedLogins[SharedAddresses.Pair(key: mark.network, account: mark.account)] = WallClock.milliseconds(mark.until)
        case .nameMarked(let mark):
            names[mark.name] = WallClock.milliseconds(mark.until)
        case .softTrustChanged(let network, let added):
            softTrust.removeAll { $0 == network }
            if added { softTrust.append(network) }
        case .banned, .removed, .unbanned, .trusted, .distrusted:
            return false
        }
        return true
    }

    /// Every mark as the change that sets it, for a snapshot.
    var changes: [GreylistChange] {
        var changes: [GreylistChange] = []
        changes.reserveCapacity(count)
        for (pair, until) in trustedAccounts {
            changes.append(.accountTrusted(AccountMark(network: pair.key, account: pair.account, until: WallClock.date(until))))
        }
        for (pair, until) in blockedLogins {
            changes.append(.loginsBlocked(AccountMark(network: pair.key, account: pair.account, until: WallClock.date(until))))
        }
        for (name, until) in names {
            changes.append(.nameMarked(NameMark(name: name, until: WallClock.date(until))))
        }
        for network in softTrust {
            changes.append(.softTrustChanged(network, added: true))
        }
        return changes
    }

    /// Fills the marks of a public snapshot, sorted.
    func fill(_ snapshot: inout GreylistSnapshot) {
        func marks(_ table: [SharedAddresses.Pair: Int64]) -> [AccountMark] {
            table.map { AccountMark(network: $0.key.key, account: $0.key.account, until: WallClock.date($0.value)) }
                .sorted { ($0.network, $0.account) < ($1.network, $1.account) }
        }
        snapshot.trustedAccounts = marks(trustedAccounts)
        snapshot.blockedLogins = marks(blockedLogins)
        snapshot.markedNames = names.map { NameMark(name: $0.key, until: WallClock.date($0.value)) }.sorted { $0.name < $1.name }
        snapshot.softTrust = softTrust
    }
}
