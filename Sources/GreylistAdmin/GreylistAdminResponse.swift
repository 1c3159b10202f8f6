#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Greylist

/// The answer to a ``GreylistAdminRequest``: a JSON document, also what `--json` prints. Text
/// from the network (usernames, reasons) is raw here; ``GreylistAdminClient/format(_:command:)``
/// escapes what it prints.
public struct GreylistAdminResponse: Codable, Equatable, Sendable {
    /// Whether the request was carried out.
    public var ok: Bool
    /// Why not, naming the bad value.
    public var error: String?
    /// Bans: listed, lifted or placed.
    public var bans: [Ban]?
    /// For `export`: remembered escalation histories.
    public var histories: [History]?
    /// For `stats`: the counters by name.
    public var statistics: [String: Int]?
    /// For `stats` on a cluster node: the shared store's link state and counters.
    public var cluster: String?
    /// For `list`: how many bans matched in all (more than `bans` holds when a limit cut it).
    public var total: Int?
    /// For `trusted` and `distrust`: the keys trusted, or whose trust was taken away.
    public var trusted: [Trust]?
    /// For `trusted`, `soft-trust` and `soft-untrust`: the configuration's soft-trust networks.
    public var softTrust: [String]?
    /// For `trusted`, `soft-trust` and `soft-untrust`: the soft-trust networks added at run time.
    public var softTrustAdded: [String]?
    /// For `soft-trust` and `soft-untrust`: whether the list changed.
    public var changed: Bool?

    /// Creates a response.
    ///
    /// - Parameters:
    ///   - ok: Whether the request was carried out.
    ///   - error: Why not.
    ///   - bans: Bans listed, lifted or placed.
    ///   - histories: Escalation histories.
    ///   - total: Bans that matched in all.
    ///   - trusted: Trusted keys.
    ///   - softTrust: The configuration's soft-trust networks.
    ///   - softTrustAdded: Soft-trust networks added at run time.
    public init(ok: Bool, error: String? = nil, bans: [Ban]? = nil, histories: [History]? = nil, total: Int? = nil,
                trusted: [Trust]? = nil, softTrust: [String]? = nil, softTrustAdded: [String]? = nil) {
        self.ok = ok
        self.error = error
        self.bans = bans
        self.histories = histories
        self.total = total
        self.trusted = trusted
        self.softTrust = softTrust
        self.softTrustAdded = softTrustAdded
    }

    /// A ban as an operator sees it.
    public struct Ban: Codable, Equatable, Sendable {
        /// The banned network.
        public var network: String
        /// `rule NAME` or `manual "REASON"`.
        public var reason: String
        /// The username behind a rule ban, raw.
        public var user: String?
        /// When it began, ISO 8601.
        public var bannedAt: String
        /// When it ends, ISO 8601.
        public var expiresAt: String
        /// The key's ban count, escalation included.
        public var banCount: Int
        /// Connections it refused.
        public var refusedCount: Int
        /// `true` for a rule ban on a trusted key (served at accept).
        public var soft: Bool?

        /// The ban of `entry`, times in ISO 8601.
        ///
        /// - Parameter entry: A ban.
        public init(_ entry: BanEntry) {
            network = entry.network.description
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

    /// A trusted key as an operator sees it.
    public struct Trust: Codable, Equatable, Sendable {
        /// The trusted key.
        public var network: String
        /// The end of its trust, ISO 8601.
        public var until: String

        /// The trust of `key`, its end in ISO 8601.
        ///
        /// - Parameter key: A trusted key.
        public init(_ key: TrustedKey) {
            network = key.network.description
            until = key.until.formatted(.iso8601)
        }
    }

    /// A remembered escalation history, for `export`.
    public struct History: Codable, Equatable, Sendable {
        /// The key.
        public var network: String
        /// Bans remembered.
        public var banCount: Int
        /// When the last ended, ISO 8601.
        public var lastBanEnd: String

        /// The history `history`, its end in ISO 8601.
        ///
        /// - Parameter history: An escalation history.
        public init(_ history: BanHistory) {
            network = history.network.description
            banCount = history.banCount
            lastBanEnd = history.lastBanEnd.formatted(.iso8601)
        }
    }
}
