/// Recent failures of one key (escalation history lives in the ban table).
struct AddressTracker {
    /// One counted failure: when, and on which account, so a success clears only its own.
    struct Failure {
        var at: Int64
        var account: String
    }

    /// Counted failures per rule name, oldest first, at most that rule's `maxFailures`.
    var failures: [String: [Failure]] = [:]
    /// Existing accounts with a wrong password from this key, and when (for trust revocation);
    /// at most `revokeAfterAccounts` of the most recent.
    var wrongPasswordAccounts: [String: Int64] = [:]

    /// Whether no failure is kept.
    var isEmpty: Bool {
        failures.values.allSatisfy(\.isEmpty) && wrongPasswordAccounts.isEmpty
    }

    /// Forgets the failures of `account` (a success from this key proves it was its owner).
    mutating func clear(account: String) {
        for name in failures.keys {
            failures[name]?.removeAll { $0.account == account }
        }
        wrongPasswordAccounts[account] = nil
    }

    /// Notes a wrong password for `account` at `now`; returns how many distinct accounts had one
    /// within `window`, keeping at most `limit` entries.
    mutating func noteWrongPassword(account: String, now: Int64, window: Int64, limit: Int) -> Int {
        wrongPasswordAccounts[account] = now
        wrongPasswordAccounts = wrongPasswordAccounts.filter { $0.value > now - window }
        if wrongPasswordAccounts.count > limit {
            let kept = wrongPasswordAccounts.sorted { $0.value > $1.value }.prefix(limit)
            wrongPasswordAccounts = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
        return wrongPasswordAccounts.count
    }
}

/// Failures on one username from different keys: password spraying against one account.
struct AccountTracker {
    /// Distinct keys that failed on the account, with their latest failure; at most the threshold.
    var sources: [IPNetwork: Int64] = [:]
    /// Until when the account is marked as under attack (0: not marked).
    var underAttackUntil: Int64 = 0
}

/// Rule bans inside one range: the keys and when each was banned.
struct RangeTracker {
    var keys: [IPNetwork: Int64] = [:]
}
