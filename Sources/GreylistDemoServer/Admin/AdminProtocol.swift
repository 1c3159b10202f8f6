import Foundation
import Greylist

/// One admin request: a JSON line on the Unix socket.
struct AdminRequest: Codable, Equatable {
    /// `list`, `stats`, `export`, `ban`, `unban`, `trusted`, `distrust`, `soft-trust` or `soft-untrust`.
    var command: String
    /// The CIDR for `ban`, `unban`, `distrust`, `soft-trust` and `soft-untrust`; for `list` and
    /// `trusted`, only what overlaps it.
    var network: String?
    /// For `list`: the most bans to return (the soonest-expiring).
    var limit: Int?
    /// The ban length for `ban` (`"1h"`, `"30m"`, …).
    var duration: String?
    /// The reason for `ban`.
    var reason: String?
    /// For `ban`: a network wider than `server.adminWidestBan` is banned only with this.
    var force: Bool?
}

/// The answer: a JSON document, also what `admin … --json` prints.
struct AdminResponse: Codable, Equatable {
    var ok: Bool
    var error: String?
    var bans: [AdminBan]?
    var histories: [AdminHistory]?
    var statistics: [String: Int]?
    /// For `stats` on a cluster node: the Redis link's state and counters.
    var cluster: String?
    /// For `list`: how many bans matched in all (more than `bans` holds when a limit cut it).
    var total: Int?
    /// For `trusted` and `distrust`: the keys trusted, or whose trust was taken away.
    var trusted: [AdminTrust]?
    /// For `trusted`, `soft-trust` and `soft-untrust`: the configuration's soft-trust networks.
    var softTrust: [String]?
    /// For `trusted`, `soft-trust` and `soft-untrust`: the soft-trust networks added by `soft-trust`.
    var softTrustAdded: [String]?
    /// For `soft-trust` and `soft-untrust`: whether the list changed.
    var changed: Bool?
}

/// A trusted key as the admin command shows it.
struct AdminTrust: Codable, Equatable {
    var network: String
    var until: String

    init(_ key: TrustedKey) {
        network = key.network.description
        until = key.until.formatted(.iso8601)
    }
}

/// A remembered escalation history, for `export`.
struct AdminHistory: Codable, Equatable {
    var network: String
    var banCount: Int
    var lastBanEnd: String

    init(_ history: BanHistory) {
        network = history.network.description
        banCount = history.banCount
        lastBanEnd = history.lastBanEnd.formatted(.iso8601)
    }
}

/// A ban as the admin command shows it.
struct AdminBan: Codable, Equatable {
    var network: String
    var reason: String
    var user: String?
    var bannedAt: String
    var expiresAt: String
    var banCount: Int
    var refusedCount: Int
    var soft: Bool?

    init(_ entry: BanEntry) {
        network = entry.network.description
        // Raw values: the client escapes what it prints (the JSON itself is safe).
        switch entry.reason {
        case .rule(let name): reason = "rule \(name)"
        case .manual(let text): reason = "manual \"\(text)\""
        }
        user = entry.user
        bannedAt = entry.bannedAt.formatted(.iso8601)
        expiresAt = entry.expiresAt.formatted(.iso8601)
        banCount = entry.banCount
        refusedCount = entry.refusedCount
        soft = entry.isSoft ? true : nil
    }
}

extension GreylistStatistics {
    /// The counters by name, for JSON.
    var dictionary: [String: Int] {
        [
            "accepted": accepted, "refused": refused, "wouldHaveRefused": wouldHaveRefused, "activeBans": activeBans,
            "trackedAddresses": trackedAddresses, "failuresReported": failuresReported, "failuresCounted": failuresCounted,
            "rulesTripped": rulesTripped, "manualBans": manualBans, "expired": expired, "bansEvicted": bansEvicted,
            "countersEvicted": countersEvicted, "trustedKeys": trustedKeys, "softAccepted": softAccepted,
            "banExtensions": banExtensions, "trustRevoked": trustRevoked, "accountsMarked": accountsMarked,
            "sprayBans": sprayBans, "rangeBans": rangeBans, "remoteFailures": remoteFailures, "remoteRefused": remoteRefused, "rules": rules,
            "unknownNameBans": unknownNameBans, "namesMarked": namesMarked,
        ]
    }
}
