#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One ban: a network refused until a wall-clock instant, and why.
public struct BanEntry: Hashable, Sendable, CustomStringConvertible {
    /// Why a network is banned.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// A rule tripped; the rule's name.
        case rule(String)
        /// An operator banned it by hand; the reason they gave.
        case manual(String)

        /// `rule botnet` or `manual "abuse report"`.
        public var description: String {
            switch self {
            case .rule(let name): return "rule \(OperatorText.escaped(name))"
            case .manual(let reason): return "manual \"\(OperatorText.escaped(reason))\""
            }
        }
    }

    /// The banned key: the offending address masked to the configured prefix, or an operator's CIDR.
    public var network: IPNetwork
    /// Why.
    public var reason: Reason
    /// The username of the failure that tripped the rule, when a rule made the ban.
    public var user: String?
    /// When the ban started.
    public var bannedAt: Date {
        get { WallClock.date(bannedAtMilliseconds) }
        set { bannedAtMilliseconds = WallClock.milliseconds(newValue) }
    }
    /// The instant the ban stops refusing; at that exact instant the key is accepted again.
    public var expiresAt: Date {
        get { WallClock.date(expiresAtMilliseconds) }
        set { expiresAtMilliseconds = WallClock.milliseconds(newValue) }
    }
    /// ``bannedAt`` in whole milliseconds since 1970, as the ban table and the journal keep it.
    package var bannedAtMilliseconds: Int64
    /// ``expiresAt`` in whole milliseconds since 1970.
    package var expiresAtMilliseconds: Int64
    /// 1 for a first ban; n + 1 for the n-th repeat within the escalation memory.
    public var banCount: Int
    /// Connections refused by this ban so far (in dry run: that would have been refused).
    public var refusedCount: Int
    /// Whether the ban is soft: a rule ban on a key trusted by a recent successful login, which
    /// the accept path still serves; it only closes a stream at a failed login.
    public var isSoft: Bool = false

    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - network: The banned key.
    ///   - reason: Rule or operator reason.
    ///   - user: The username that tripped the rule, if any.
    ///   - bannedAt: The start.
    ///   - expiresAt: The end.
    ///   - banCount: Which repeat this is, from 1.
    ///   - refusedCount: Connections refused so far.
    public init(network: IPNetwork, reason: Reason, user: String? = nil, bannedAt: Date, expiresAt: Date, banCount: Int = 1, refusedCount: Int = 0) {
        self.network = network
        self.reason = reason
        self.user = user
        self.bannedAtMilliseconds = WallClock.milliseconds(bannedAt)
        self.expiresAtMilliseconds = WallClock.milliseconds(expiresAt)
        self.banCount = banCount
        self.refusedCount = refusedCount
    }

    /// Creates an entry from millisecond instants, as the ban table holds them: no `Date` round trip.
    package init(network: IPNetwork, reason: Reason, user: String?, bannedAtMilliseconds: Int64,
                 expiresAtMilliseconds: Int64, banCount: Int, refusedCount: Int) {
        self.network = network
        self.reason = reason
        self.user = user
        self.bannedAtMilliseconds = bannedAtMilliseconds
        self.expiresAtMilliseconds = expiresAtMilliseconds
        self.banCount = banCount
        self.refusedCount = refusedCount
    }

    /// The ban's length.
    public var duration: Duration {
        .milliseconds(expiresAtMilliseconds.subtractingClamped(bannedAtMilliseconds))
    }

    /// `203.0.113.7/32 rule botnet user=bad_user_12345 for 4h until 2026-11-25T04:00:00Z (ban #1)`.
    public var description: String {
        var text = "\(network) \(reason)\(isSoft ? " (soft: trusted key)" : "")"
        if let user { text += " user=\(OperatorText.escaped(user))" }
        text += " for \(DurationText.format(milliseconds: duration.wholeMilliseconds))"
        text += " until \(expiresAt.formatted(.iso8601)) (ban #\(banCount))"
        return text
    }
}
