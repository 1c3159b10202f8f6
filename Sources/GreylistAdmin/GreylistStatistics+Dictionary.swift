import Greylist

extension GreylistStatistics {
    /// The counters by name, for JSON.
    package var dictionary: [String: Int] {
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
