/// What a ``Greylist`` loaded from its store at start-up, for the host to log: how many bans,
/// histories, trusted keys and judgment marks came back, and how many stored records were clamped
/// to what the configuration allows.
public struct RestoredState: Hashable, Sendable, CustomStringConvertible {
    /// Bans in force.
    public var bans: Int
    /// Escalation histories of keys not banned now.
    public var histories: Int
    /// Keys trusted by a recent login.
    public var trustedKeys: Int
    /// Accounts trusted on keys (shared-address evidence).
    public var trustedAccounts: Int
    /// Accounts whose guesses from a shared address are used up.
    public var blockedLogins: Int
    /// Unknown names marked as bots'.
    public var markedNames: Int
    /// Soft-trust networks an operator added at run time.
    public var addedSoftTrust: Int
    /// Stored records clamped at loading (dated beyond what the configuration allows).
    public var clamped: Int

    /// Creates a summary.
    ///
    /// - Parameters:
    ///   - bans: Bans in force.
    ///   - histories: Escalation histories.
    ///   - trustedKeys: Trusted keys.
    ///   - trustedAccounts: Accounts trusted on keys.
    ///   - blockedLogins: Spent guess budgets.
    ///   - markedNames: Bots' names.
    ///   - addedSoftTrust: Soft-trust networks added at run time.
    ///   - clamped: Records clamped at loading.
    public init(bans: Int = 0, histories: Int = 0, trustedKeys: Int = 0, trustedAccounts: Int = 0, blockedLogins: Int = 0,
                markedNames: Int = 0, addedSoftTrust: Int = 0, clamped: Int = 0) {
        self.bans = bans
        self.histories = histories
        self.trustedKeys = trustedKeys
        self.trustedAccounts = trustedAccounts
        self.blockedLogins = blockedLogins
        self.markedNames = markedNames
        self.addedSoftTrust = addedSoftTrust
        self.clamped = clamped
    }

    /// One line: `12 bans, 3 histories, 20 trusted keys (20 accounts on them), 1 spent guess budget, 4 bots' names, 1 added soft-trust network`.
    public var description: String {
        func count(_ value: Int, _ one: String, _ many: String) -> String {
            "\(value) \(value == 1 ? one : many)"
        }
        var parts = [count(bans, "ban", "bans"), count(histories, "history", "histories"),
                     count(trustedKeys, "trusted key", "trusted keys") + " (\(count(trustedAccounts, "account", "accounts")) on them)",
                     count(blockedLogins, "spent guess budget", "spent guess budgets"), count(markedNames, "bot's name", "bots' names"),
                     count(addedSoftTrust, "added soft-trust network", "added soft-trust networks")]
        if clamped > 0 { parts.append("\(clamped) clamped to the configuration") }
        return parts.joined(separator: ", ")
    }
}
