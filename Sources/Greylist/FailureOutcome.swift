/// What ``Greylist/recordFailedAuth(user:ip:kind:)`` did with a failure.
public enum FailureOutcome: Hashable, Sendable {
    /// A rule tripped and the key is now banned; in dry run (`dryRun` true) it only would be, and
    /// nothing is refused.
    case banned(BanEntry, dryRun: Bool)
    /// The failure was counted by these rules; none tripped yet.
    case counted(rules: [String])
    /// No rule's pattern matched the username.
    case noRuleMatched
    /// The address is on the allowlist: never counted.
    case allowlisted
    /// The key is already banned: nothing more to count. In dry run (`dryRun` true) the ban only
    /// would refuse.
    case alreadyBanned(BanEntry, dryRun: Bool)
    /// The failure was not the client's fault (``AuthenticationFailure/serviceUnavailable``).
    case notClientFault
    /// The key is a shared address (many accounts log in from it, or it is in `softTrust`) and
    /// this account never logged in from it: the failure ends its stream, and takes nothing from
    /// the address's other accounts. In dry run (`dryRun` true) the stream stays open.
    case sharedAddress(IPNetwork, dryRun: Bool)

    /// Whether the source's key is banned (in dry run: would be), now or already.
    public var isBanned: Bool {
        switch self {
        case .banned, .alreadyBanned: return true
        default: return false
        }
    }

    /// The verdict the caller acts on: `true` when the stream must be closed now because the
    /// source is banned. Always `false` in dry run, where nothing is refused.
    public var closesStream: Bool {
        switch self {
        case .banned(_, let dryRun), .alreadyBanned(_, let dryRun), .sharedAddress(_, let dryRun): return !dryRun
        default: return false
        }
    }
}
