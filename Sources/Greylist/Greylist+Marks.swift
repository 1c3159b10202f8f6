/// What the judgment remembers beyond bans and key trust (accounts trusted on keys, spent guess
/// budgets, bots' names, the operator's soft-trust additions): stored, restored, and shared.
extension Greylist {
    /// The most soft-trust networks an operator may add at run time.
    public static let maximumAddedSoftTrust = 4_096

    /// The operator's soft-trust networks in force: the configuration's `softTrust`, then those
    /// added with ``addSoftTrust(_:)``. Their bans are always soft.
    public var softTrustNetworks: [IPNetwork] {
        configuration.softTrust + addedSoftTrust.filter { !configuration.softTrust.contains($0) }
    }

    /// The soft-trust networks added with ``addSoftTrust(_:)``, in the order they were added.
    public var addedSoftTrustNetworks: [IPNetwork] {
        addedSoftTrust
    }

    /// Makes every ban inside `network` soft from now on, as the configuration's `softTrust` does
    /// (an office, a university, a carrier's CGNAT range whose users share addresses with bots):
    /// a ban there closes the failing stream and never refuses a connection, and each account's
    /// password guesses from one key are bounded by `trust.maxGuessesPerAccount`. Stored, so it
    /// outlives restarts and reloads; this node's alone (like the allowlist, each node of a
    /// cluster keeps its own list).
    ///
    /// - Parameter network: The network to add.
    /// - Returns: Whether the list changed (`false` when it was there already).
    /// - Throws: ``GreylistError/invalidConfiguration(_:)`` past ``maximumAddedSoftTrust`` networks.
    @discardableResult
    public func addSoftTrust(_ network: IPNetwork) async throws(GreylistError) -> Bool {
        guard !addedSoftTrust.contains(network) else { return false }
        guard addedSoftTrust.count < Self.maximumAddedSoftTrust else {
            throw .invalidConfiguration([ConfigurationIssue(path: "softTrust", value: network.description, reason: "\(network) not added: "
                + "\(Self.maximumAddedSoftTrust) networks were added already (put wide ranges in the configuration's softTrust)")])
        }
        addedSoftTrust.append(network)
        configureGate()
        persist(.softTrustChanged(network, added: true))
        events?(.softTrustChanged(network, added: true))
        await acknowledgeStored()
        return true
    }

    /// Takes a network added with ``addSoftTrust(_:)`` out of the list (the configuration's own
    /// entries change only with the configuration).
    ///
    /// - Parameter network: The network, exactly as added.
    /// - Returns: Whether the list changed.
    @discardableResult
    public func removeSoftTrust(_ network: IPNetwork) async -> Bool {
        guard addedSoftTrust.contains(network) else { return false }
        addedSoftTrust.removeAll { $0 == network }
        configureGate()
        persist(.softTrustChanged(network, added: false))
        events?(.softTrustChanged(network, added: false))
        await acknowledgeStored()
        return true
    }

    /// Hands the configuration and the soft-trust list to the accept path.
    func configureGate() {
        softTrustInForce = softTrustNetworks
        gate.configure(allowlist: configuration.allowlist, softTrust: softTrustInForce, dryRun: configuration.dryRun,
                       knocking: Self.knockingPolicy(configuration))
    }

    /// The marks in force now, as stored.
    func currentMarks(now: Int64) -> StoredMarks {
        var marks = StoredMarks()
        for (key, entry) in sharedAddresses.accounts.entries {
            for (account, until) in entry.value where until > now {
                marks.trustedAccounts[SharedAddresses.Pair(key: key, account: account)] = until
            }
        }
        marks.blockedLogins = blockedLogins.withLock { $0.until.filter { $0.value > now } }
        for (name, entry) in unknownNames.entries where entry.value.underAttackUntil > now {
            marks.names[name] = entry.value.underAttackUntil
        }
        marks.softTrust = addedSoftTrust
        return marks
    }

    /// Installs stored marks at start-up, each ending no later than its setting allows from now.
    ///
    /// - Returns: The marks kept (clamped), and how many were clamped.
    static func restoreMarks(_ marks: StoredMarks, configuration: GreylistConfiguration, now: Int64,
                             into sharedAddresses: inout SharedAddresses, names: inout RecencyTable<String, AccountTracker>,
                             blocked: LockedValue<BlockedLogins>) -> (kept: StoredMarks, clamped: Int) {
        var kept = StoredMarks()
        var clamped = 0
        func end(_ until: Int64, within length: Duration) -> Int64 {
            let latest = now.addingClamped(length.wholeMilliseconds)
            if until > latest { clamped += 1 }
            return min(until, latest)
        }
        if configuration.trust.memory > .zero {
            for (pair, until) in marks.trustedAccounts.sorted(by: { $0.value < $1.value }) where until > now {
                let until = end(until, within: configuration.trust.memory)
                sharedAddresses.noteLogin(pair.account, on: pair.key, until: until, now: now)
                kept.trustedAccounts[pair] = until
            }
        }
        kept.blockedLogins = marks.blockedLogins.filter { $0.value > now }.mapValues { end($0, within: configuration.trust.guessWindow) }
        blocked.withLock { table in
            for (pair, until) in kept.blockedLogins { table.block(pair, until: until, now: now) }
        }
        for (name, until) in marks.names.sorted(by: { $0.value < $1.value }) where until > now {
            let markedUntil = end(until, within: configuration.unknownNames.markFor)
            _ = names.update(name, make: AccountTracker.init) { tracker in
                tracker.underAttackUntil = markedUntil
                tracker.storedUntil = markedUntil
            }
            kept.names[name] = markedUntil
        }
        kept.softTrust = Array(marks.softTrust.prefix(maximumAddedSoftTrust))
        return (kept, clamped)
    }
}
