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

    /// Counts a failure on `account` at `at` for the rule `name`: the rule's failures within
    /// `window` of `now` are kept, oldest first, at most `keep` of them (the newest).
    ///
    /// - Returns: How many failures the rule holds now, this one included.
    mutating func count(_ name: String, at: Int64, account: String, window: Int64, keep: Int, now: Int64) -> Int {
        var recent = (failures[name] ?? []).filter { $0.at > now - window }
        recent.append(Failure(at: at, account: account))
        if at < now { recent.sort { $0.at < $1.at } }  // another node's failure may be older than ours
        if recent.count > keep { recent.removeFirst(recent.count - keep) }
        failures[name] = recent
        return recent.count
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
    /// The end of the mark as last stored (marks that are stored: bots' names).
    var storedUntil: Int64 = 0

    /// Notes a failure from `key` at `now`, keeps the sources within `window` that `counts`
    /// accepts (at most `keep`, the newest), and marks the account until `now + markFor` when at
    /// least `threshold` remain (or, `renewing`, whenever it is marked already).
    ///
    /// - Returns: Whether it is marked now, and whether this failure marked it.
    mutating func note(_ key: IPNetwork, now: Int64, window: Int64, keep: Int, threshold: Int, markFor: Int64, renewing: Bool,
                       counts: (IPNetwork) -> Bool = { _ in true }) -> (marked: Bool, newly: Bool) {
        sources[key] = now
        sources = sources.filter { $0.value > now - window && counts($0.key) }
        if sources.count > keep {
            let kept = sources.sorted { $0.value > $1.value }.prefix(keep)
            sources = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
        let wasMarked = underAttackUntil > now
        if sources.count >= threshold || (renewing && wasMarked) {
            underAttackUntil = now.addingClamped(markFor)
        }
        return (underAttackUntil > now, !wasMarked && underAttackUntil > now)
    }
}

/// Rule bans inside one range: the keys and when each was banned.
struct RangeTracker {
    var keys: [IPNetwork: Int64] = [:]
}
