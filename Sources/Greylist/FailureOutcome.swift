/// What ``Greylist/recordFailedAuth(user:ip:kind:)`` did with a failure.
public enum FailureOutcome: Hashable, Sendable {
    /// A rule tripped and the key is now banned (in dry run: would be); the stream should be closed.
    case banned(BanEntry)
    /// The failure was counted by these rules; none tripped yet.
    case counted(rules: [String])
    /// No rule's pattern matched the username.
    case noRuleMatched
    /// The address is on the allowlist: never counted.
    case allowlisted
    /// The key is already banned: nothing more to count.
    case alreadyBanned(BanEntry)
    /// The failure was not the client's fault (``AuthenticationFailure/serviceUnavailable``).
    case notClientFault

    /// Whether the caller should close the connection now because of a ban.
    public var isBanned: Bool {
        switch self {
        case .banned, .alreadyBanned: return true
        default: return false
        }
    }
}
