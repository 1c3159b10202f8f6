/// Who gets refused and for how long: rules, trust, spraying and ranges.
extension Greylist {
    func countFailure(user: String, ip: IPAddress, kind: AuthenticationFailure) -> FailureOutcome {
        counters.failuresReported += 1
        guard kind.isClientFault else { return .notClientFault }
        guard !configuration.allowlist.contains(where: { $0.contains(ip) }) else { return .allowlisted }
        let now = clock.nowMilliseconds
        let key = banKey(for: ip)
        var trusted = isTrusted(key, now: now)
        let shared = trusted && isSharedAddress(key, now: now)
        if shared {
            // Many accounts' address: wrong passwords here do not take it away from them; each
            // account's guesses from it are budgeted instead.
            if kind == .invalidCredentials { noteGuess(user, on: key, now: now) }
        } else if trusted && kind == .invalidCredentials {
            trusted = !revokeTrustIfAbused(key, account: user, now: now)
        }
        let outcome = judge(user: user, key: key, kind: kind, trusted: trusted, now: now)
        if shared && !outcome.closesStream && !configuration.dryRun && !sharedAddresses.isFamiliar(user, on: key, now: now) {
            return .sharedAddress(key, dryRun: false)
        }
        return outcome
    }

    /// Counts a failure from a key that is not allowlisted: bans, spraying, bot names, rules.
    private func judge(user: String, key: IPNetwork, kind: AuthenticationFailure, trusted: Bool, now: Int64) -> FailureOutcome {
        let slot = gate.slot(key)
        if let slot, slot.expiresAt > now {
            return .alreadyBanned(entry(key, slot, now: now), dryRun: configuration.dryRun)
        }
        if kind == .unknownAccount && !trusted && noteUnknownName(user, from: key, now: now) {
            // A name many unrelated sources tried and no one owns: this source is one of them.
            counters.failuresCounted += 1
            counters.unknownNameBans += 1
            let rule = GreylistRule(name: Self.unknownNameRuleName, banFor: configuration.unknownNames.banFor)
            return .banned(banByRule(key, previous: slot, rule: rule, user: user, now: now), dryRun: configuration.dryRun)
        }
        if noteSpraying(user, from: key, now: now) && !trusted {
            // Failures on marked accounts from this key; an owner's success clears its own.
            let policy = configuration.spraying
            let spray = GreylistRule(name: Self.sprayingRuleName, maxFailures: policy.failuresToBan, window: policy.window, banFor: policy.banFor)
            let (count, evicted) = trackers.update(key, make: AddressTracker.init) { tracker in
                tracker.count(spray.name, at: now, account: user, window: spray.window.wholeMilliseconds, keep: spray.maxFailures, now: now)
            }
            reportEvicted(counters: evicted)
            if count >= spray.maxFailures {
                counters.failuresCounted += 1
                counters.sprayBans += 1
                return .banned(banByRule(key, previous: slot, rule: spray, user: user, now: now), dryRun: configuration.dryRun)
            }
        }
        let matching = rules.filter { $0.rule.counts.contains(kind) && $0.matches(user) }
        guard !matching.isEmpty else { return .noRuleMatched }
        counters.failuresCounted += 1
        let (tripped, evicted) = trackers.update(key, make: AddressTracker.init) { tracker -> CompiledRule? in
            var tripped: CompiledRule?
            for compiled in matching {
                let rule = compiled.rule
                let count = tracker.count(rule.name, at: now, account: user, window: rule.window.wholeMilliseconds, keep: rule.maxFailures, now: now)
                if tripped == nil && count >= rule.maxFailures { tripped = compiled }
            }
            return tripped
        }
        reportEvicted(counters: evicted)
        guard let tripped else {
            if sharesFailures {
                for compiled in matching {
                    store?.share(SharedFailure(key: key, rule: compiled.rule.name, account: user, at: WallClock.date(now)))
                }
            }
            return .counted(rules: matching.map(\.rule.name))
        }
        return .banned(banByRule(key, previous: slot, rule: tripped.rule, user: user, now: now), dryRun: configuration.dryRun)
    }

    /// Bans `key` for a tripped rule, escalating for repeat offenders: the key's previous ban
    /// stays in the ban table after it ends, as history, until `forgetAfter` has passed.
    /// `slot` is the key's slot as read for this failure (no second lookup). Then counts the ban
    /// toward its range.
    func banByRule(_ key: IPNetwork, previous slot: BanSlot?, rule: GreylistRule, user: String?, now: Int64) -> BanEntry {
        let escalation = configuration.escalation
        var previous = 0
        if let slot, reasons.isRule(slot.reason),
           now < slot.expiresAt.addingClamped(escalation.forgetAfter.wholeMilliseconds) {
            previous = slot.banCount
        }
        let length = Self.escalated(rule.banFor.wholeMilliseconds, factor: escalation.factor, times: previous,
                                    cap: escalation.maxBan.wholeMilliseconds)
        trackers.remove(key)
        counters.rulesTripped += 1
        let placed = place(key, reason: .rule(rule.name), user: user, bannedAt: now, expiresAt: now.addingClamped(length), banCount: previous + 1)
        if key.prefixLength == (key.address.isIPv4 ? configuration.prefixLength.ipv4 : configuration.prefixLength.ipv6) {
            noteRangeBan(key, now: now)
        }
        return placed
    }

    /// The name spraying bans carry, and under which its failures are counted.
    static let sprayingRuleName = "spraying"
    /// The name of bans for a failure on a marked unknown name.
    static let unknownNameRuleName = "unknown-name"

    // MARK: - Trust

    /// Whether `key` logged in successfully within the trust memory, or is in `softTrust`.
    func isTrusted(_ key: IPNetwork, now: Int64) -> Bool {
        if isSoftTrusted(key) { return true }
        guard configuration.trust.memory > .zero, let until = gate.trustedUntil(key) else { return false }
        return until > now
    }

    /// Trusts `key` for the trust memory from `now`; stores it when new or when the stored end
    /// is a thirtieth of the memory old or more (so a busy key does not journal every login).
    func earnTrust(_ key: IPNetwork, now: Int64) {
        let memory = configuration.trust.memory.wholeMilliseconds
        guard memory > 0 else { return }
        let until = now.addingClamped(memory)
        let (previous, count) = gate.trust(key, until: until)
        if previous.map({ until - $0 >= memory / 30 }) ?? true {
            persist(.trusted(key, until: WallClock.date(until)))
        }
        if count > configuration.trust.maxTrustedKeys {
            for dropped in gate.purgeTrust(now: now, limit: configuration.trust.maxTrustedKeys) {
                persist(.distrusted(dropped), share: false)
            }
        }
    }

    /// Notes a wrong password on `account` from the trusted `key`; when wrong passwords for
    /// enough distinct accounts came from it within the window, its trust is taken away.
    ///
    /// - Returns: Whether the trust was revoked now.
    func revokeTrustIfAbused(_ key: IPNetwork, account: String, now: Int64) -> Bool {
        let policy = configuration.trust
        let (distinct, evicted) = trackers.update(key, make: AddressTracker.init) { tracker in
            tracker.noteWrongPassword(account: account, now: now, window: policy.revokeWindow.wholeMilliseconds,
                                      limit: policy.revokeAfterAccounts)
        }
        reportEvicted(counters: evicted)
        guard distinct >= policy.revokeAfterAccounts else { return false }
        gate.distrust(key)
        persist(.distrusted(key))
        counters.trustRevoked += 1
        events?(.trustRevoked(key, accounts: distinct))
        return true
    }

    /// Trusts `account` on `key` for the trust memory from `now`; stores it as ``earnTrust(_:now:)``
    /// stores a key's trust (new, or renewed by a thirtieth of the memory).
    func earnAccountTrust(_ account: String, on key: IPNetwork, now: Int64) {
        let memory = configuration.trust.memory.wholeMilliseconds
        guard memory > 0 else { return }
        let until = now.addingClamped(memory)
        let previous = sharedAddresses.accounts[key]?[account]
        sharedAddresses.noteLogin(account, on: key, until: until, now: now)
        if previous.map({ until - $0 >= memory / 30 }) ?? true {
            persist(.accountTrusted(AccountMark(network: key, account: account, until: WallClock.date(until))))
        }
    }

    // MARK: - Spraying

    /// Counts a failure on `account` from `key`; marks the account as under attack when enough
    /// distinct keys failed on it within the window.
    ///
    /// - Returns: Whether the account is under attack now.
    func noteSpraying(_ account: String, from key: IPNetwork, now: Int64) -> Bool {
        let policy = configuration.spraying
        guard policy.distinctSources > 0 else { return false }
        let window = policy.window.wholeMilliseconds
        let ((marked, newly), _) = accounts.update(account, make: AccountTracker.init) { tracker in
            tracker.note(key, now: now, window: window, keep: policy.distinctSources, threshold: policy.distinctSources,
                         markFor: policy.markFor.wholeMilliseconds, renewing: false)
        }
        if newly {
            counters.accountsMarked += 1
            events?(.accountUnderAttack(user: account, sources: policy.distinctSources))
        }
        return marked
    }

    // MARK: - Shared addresses

    /// Whether `key` is in the operator's soft-trust list.
    func isSoftTrusted(_ key: IPNetwork) -> Bool {
        !softTrustInForce.isEmpty && softTrustInForce.contains { $0.contains(key.address) }
    }

    /// Whether `key` is a shared address: in `softTrust`, or enough distinct accounts logged in
    /// from it within the trust memory.
    func isSharedAddress(_ key: IPNetwork, now: Int64) -> Bool {
        if isSoftTrusted(key) { return true }
        let needed = configuration.trust.sharedAddressAccounts
        return needed > 0 && sharedAddresses.accountCount(on: key, now: now) >= needed
    }

    /// Counts a failed login on `account` from the shared address `key`; when its budget is
    /// spent, blocks the pair until the window moves on.
    func noteGuess(_ account: String, on key: IPNetwork, now: Int64) {
        let policy = configuration.trust
        guard let end = sharedAddresses.noteGuess(account, on: key, budget: policy.maxGuessesPerAccount,
                                                  window: policy.guessWindow.wholeMilliseconds, now: now) else { return }
        let pair = SharedAddresses.Pair(key: key, account: account)
        let previous = blockedLogins.withLock { table in
            defer { table.block(pair, until: end, now: now) }
            return table.until[pair]
        }
        guard previous.map({ $0 <= now }) ?? true else { return }
        persist(.loginsBlocked(AccountMark(network: key, account: account, until: WallClock.date(end))))
        events?(.loginsBlocked(key, user: account, until: WallClock.date(end)))
    }

    // MARK: - Unknown names

    /// Counts a failure on the unknown name `name` from the untrusted `key`; marks the name as a
    /// bot's when enough distinct keys that are still untrusted failed on it within the window
    /// (a key that logged in since was a user's typo, and does not count).
    ///
    /// - Returns: Whether the name is marked now (this failure included).
    func noteUnknownName(_ name: String, from key: IPNetwork, now: Int64) -> Bool {
        let policy = configuration.unknownNames
        guard policy.distinctSources > 0 else { return false }
        let window = policy.window.wholeMilliseconds
        // Twice the threshold kept, the newest, so a few later-trusted keys cannot hide the rest.
        let markFor = policy.markFor.wholeMilliseconds
        let ((marked, newly, storeUntil), _) = unknownNames.update(name, make: AccountTracker.init) { tracker -> (Bool, Bool, Int64?) in
            let (marked, newly) = tracker.note(key, now: now, window: window, keep: 2 * policy.distinctSources, threshold: policy.distinctSources,
                                               markFor: markFor, renewing: true) { !isTrusted($0, now: now) }
            // Stored when new, and when renewed by a thirtieth of the mark (not at every failure).
            guard marked, newly || tracker.underAttackUntil - tracker.storedUntil >= markFor / 30 else { return (marked, newly, nil) }
            tracker.storedUntil = tracker.underAttackUntil
            return (marked, newly, tracker.underAttackUntil)
        }
        if let storeUntil { persist(.nameMarked(NameMark(name: name, until: WallClock.date(storeUntil)))) }
        if newly {
            counters.namesMarked += 1
            events?(.nameMarked(user: name, sources: policy.distinctSources))
        }
        return marked
    }

    // MARK: - Ranges

    /// Keys held by the range trackers, in all (for tests: it stays bounded).
    package func rangeKeysTracked() -> Int {
        var total = 0
        rangeTrackers.forEachValue { total += $0.keys.count }
        return total
    }

    /// Counts a rule ban toward its range, and bans the range when enough keys in it are banned,
    /// unless the range touches the allowlist.
    func noteRangeBan(_ key: IPNetwork, now: Int64) {
        let policy = configuration.ranges
        guard policy.bannedKeys > 0 else { return }
        let rangeLength = key.address.isIPv4 ? policy.ipv4PrefixLength : policy.ipv6PrefixLength
        guard rangeLength < key.prefixLength else { return }
        let range = IPNetwork(unchecked: key.address, prefixLength: rangeLength)
        let window = policy.window.wholeMilliseconds
        let slot = gate.slot(range)
        if let slot, slot.expiresAt > now {
            // Already banned: nothing to count (a tracker kept here would grow with every key).
            rangeTrackers.remove(range)
            return
        }
        let (count, _) = rangeTrackers.update(range, make: RangeTracker.init) { tracker -> Int in
            tracker.keys[key] = now
            tracker.keys = tracker.keys.filter { $0.value > now - window }
            // Only the newest `bannedKeys` can matter: memory and work per failure stay bounded.
            if tracker.keys.count > policy.bannedKeys, let oldest = tracker.keys.min(by: { $0.value < $1.value }) {
                tracker.keys[oldest.key] = nil
            }
            return tracker.keys.count
        }
        guard count >= policy.bannedKeys,
              !configuration.allowlist.contains(where: { range.contains($0) || $0.contains(range) }) else { return }
        rangeTrackers.remove(range)
        counters.rangeBans += 1
        _ = banByRule(range, previous: slot, rule: GreylistRule(name: "range", banFor: policy.banFor), user: nil, now: now)
    }

    /// How refused connections extend rule bans, from the configuration.
    static func knockingPolicy(_ configuration: GreylistConfiguration) -> KnockingPolicy {
        KnockingPolicy(enabled: configuration.knocking.extendBans, extendBy: configuration.knocking.extendBy.wholeMilliseconds,
                       factor: configuration.escalation.factor, maxBan: configuration.escalation.maxBan.wholeMilliseconds)
    }
}
