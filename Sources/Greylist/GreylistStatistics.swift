/// Counters since the greylist was created.
public struct GreylistStatistics: Hashable, Sendable {
    /// Connections ``Greylist/shouldAccept(ip:)`` accepted (in dry run: all of them).
    public var accepted: Int
    /// Connections refused.
    public var refused: Int
    /// Connections a dry run accepted that a live run would have refused.
    public var wouldHaveRefused: Int
    /// Bans in force: counted as bans are placed, purged and removed, so reading it never walks
    /// the table. A ban that expired since the last purge (every `cleanupInterval`) still
    /// counts until that purge reports it.
    public var activeBans: Int
    /// Addresses with failure counters now (failed, not banned).
    public var trackedAddresses: Int
    /// Failed logins reported, of any kind.
    public var failuresReported: Int
    /// Failed logins that counted toward a rule.
    public var failuresCounted: Int
    /// Bans placed by rules.
    public var rulesTripped: Int
    /// Bans placed by operators.
    public var manualBans: Int
    /// Bans that ran out and were purged.
    public var expired: Int
    /// Bans removed because the ban table was full.
    public var bansEvicted: Int
    /// Failure counters or escalation histories removed because their table was full.
    public var countersEvicted: Int
    /// Keys trusted (a successful login within `trust.memory`); a trust that ended since the
    /// last purge still counts until that purge drops it.
    public var trustedKeys: Int = 0
    /// Connections accepted despite a rule ban because their key is trusted (soft bans).
    public var softAccepted: Int = 0
    /// Refused connections that extended their ban (knocking).
    public var banExtensions: Int = 0
    /// Keys whose trust was taken away (wrong passwords on many accounts).
    public var trustRevoked: Int = 0
    /// Accounts marked as under attack (spraying).
    public var accountsMarked: Int = 0
    /// Bans placed at once for a failure on an account under attack.
    public var sprayBans: Int = 0
    /// Bans placed at once for a failure on a marked unknown name (a bot's dictionary).
    public var unknownNameBans: Int = 0
    /// Unknown names marked as a bot's (enough untrusted sources tried them).
    public var namesMarked: Int = 0
    /// Ranges banned because enough keys inside were.
    public var rangeBans: Int = 0
    /// Failures other nodes counted and shared (a cluster).
    public var remoteFailures: Int = 0
    /// Rules in force (0: no failed login bans anyone).
    public var rules: Int = 0
    /// Changes from other nodes refused for their scope (wider than this node could have made).
    public var remoteRefused: Int = 0

    /// Creates statistics; all counters default to zero.
    public init(accepted: Int = 0, refused: Int = 0, wouldHaveRefused: Int = 0, activeBans: Int = 0, trackedAddresses: Int = 0, failuresReported: Int = 0, failuresCounted: Int = 0, rulesTripped: Int = 0, manualBans: Int = 0, expired: Int = 0, bansEvicted: Int = 0, countersEvicted: Int = 0) {
        self.accepted = accepted
        self.refused = refused
        self.wouldHaveRefused = wouldHaveRefused
        self.activeBans = activeBans
        self.trackedAddresses = trackedAddresses
        self.failuresReported = failuresReported
        self.failuresCounted = failuresCounted
        self.rulesTripped = rulesTripped
        self.manualBans = manualBans
        self.expired = expired
        self.bansEvicted = bansEvicted
        self.countersEvicted = countersEvicted
    }
}
