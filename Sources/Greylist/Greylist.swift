#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Bans the sources of bot logins and refuses their later connections right after `accept()`.
///
/// Two hooks wire it into a server. The accept loop calls ``shouldAccept(ip:)`` before TLS or any
/// protocol byte; it is `nonisolated` and synchronous (a lock-guarded table, no `Task`), so a
/// Glibc or Dispatch accept loop can call it directly. The authentication layer calls
/// ``recordFailedAuth(user:ip:kind:)``; when a rule trips, the source's key is banned.
///
/// ```swift
/// let greylist = try Greylist(configuration: GreylistConfiguration(rules: [
///     GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3600)),
/// ]))
/// let source = try IPAddress("203.0.113.7")
/// await greylist.recordFailedAuth(user: "bad_user_348211", ip: source)
/// greylist.shouldAccept(ip: source)   // false for the next four hours
/// ```
public actor Greylist {
    /// The accept path's table; the actor is its only writer.
    nonisolated let gate = AcceptGate()
    /// (key, account) pairs whose guesses are used up: read by ``shouldVerify(user:ip:)``.
    nonisolated let blockedLogins = LockedValue(BlockedLogins())
    /// The injected clock.
    nonisolated let clock: WallClock
    /// The host's event sink.
    nonisolated let events: (@Sendable (GreylistEvent) -> Void)?

    var configuration: GreylistConfiguration
    /// Compiled rules (linear-time patterns), used by the actor's judgment.
    var rules: [CompiledRule]
    /// Failure counters of keys that are not banned.
    var trackers: RecencyTable<IPNetwork, AddressTracker>
    /// Failures per username from distinct keys (spraying).
    var accounts: RecencyTable<String, AccountTracker>
    /// Rule bans per range (range bans).
    var rangeTrackers: RecencyTable<IPNetwork, RangeTracker>
    /// Untrusted keys per unknown username, and whether it is marked as a bot's name.
    var unknownNames: RecencyTable<String, AccountTracker>
    /// Which accounts logged in from which keys, and the guesses each received there.
    var sharedAddresses: SharedAddresses
    /// Soft-trust networks an operator added at run time (stored).
    var addedSoftTrust: [IPNetwork] = []
    /// The configuration's soft-trust networks and the added ones.
    var softTrustInForce: [IPNetwork]
    var counters = GreylistStatistics()
    /// Ban reasons, interned: a ban slot holds a 2-byte index.
    var reasons = ReasonTable()
    /// Usernames behind recent rule bans, for listings.
    var recentUsers = RecentUsers(capacity: RecentUsers.standardCapacity)
    /// Where bans survive restarts, if anywhere.
    nonisolated let store: (any GreylistStore)?
    /// The store when it is the embedded journal, or the journal under a shared store: it takes
    /// changes and snapshots in compact form.
    nonisolated let journal: JournalStore?
    /// Whether the store shares changes beyond ``journal`` (a cluster link over a local journal).
    nonisolated let sharesChanges: Bool
    /// Whether counted failures go to the store (any store but the plain journal: a cluster link,
    /// with or without a local journal).
    nonisolated let sharesFailures: Bool
    var lastStoredSequence: UInt64 = 0
    /// What start-up loaded from the store (all zero without one): for the host's log.
    public nonisolated let restored: RestoredState

    /// Creates a greylist.
    ///
    /// - Parameters:
    ///   - configuration: Rules, allowlist, limits; validated and compiled here, once.
    ///   - clock: Where time comes from; tests pass a clock they drive by hand.
    ///   - events: Receives every ``GreylistEvent``; `nil` drops them.
    ///   - store: Where bans survive restarts. `nil` uses a ``JournalStore`` in
    ///     `configuration.stateDirectory` when that is set, else memory only.
    /// - Throws: ``GreylistError/invalidConfiguration(_:)`` listing every bad field;
    ///   ``GreylistError/storage(_:reason:)`` when the state directory cannot be used.
    public init(
        configuration: GreylistConfiguration = GreylistConfiguration(),
        clock: WallClock = .system,
        events: (@Sendable (GreylistEvent) -> Void)? = nil,
        store: (any GreylistStore)? = nil
    ) throws(GreylistError) {
        self.rules = try CompiledRule.compile(configuration)
        self.configuration = configuration
        self.clock = clock
        self.events = events
        self.trackers = RecencyTable(capacity: configuration.limits.maxTrackedAddresses)
        self.accounts = RecencyTable(capacity: configuration.spraying.maxTrackedAccounts)
        self.rangeTrackers = RecencyTable(capacity: configuration.ranges.maxTrackedRanges)
        self.unknownNames = RecencyTable(capacity: configuration.unknownNames.maxTrackedNames)
        self.sharedAddresses = SharedAddresses(maximumKeys: configuration.trust.maxTrustedKeys)
        self.softTrustInForce = configuration.softTrust
        blockedLogins.withLock { $0.prefixLength = (configuration.prefixLength.ipv4, configuration.prefixLength.ipv6) }
        let chosenStore: (any GreylistStore)?
        if let store {
            chosenStore = store
        } else if let directory = configuration.stateDirectory, !directory.isEmpty {
            chosenStore = try JournalStore(directory: directory, synchronous: configuration.stateSync)
        } else {
            chosenStore = nil
        }
        let journal = (chosenStore as? JournalStore) ?? chosenStore?.localJournal
        self.store = chosenStore
        self.journal = journal
        self.sharesChanges = journal != nil && chosenStore !== journal
        self.sharesFailures = chosenStore != nil && !(chosenStore is JournalStore)
        gate.configure(allowlist: configuration.allowlist, softTrust: configuration.softTrust, dryRun: configuration.dryRun,
                       knocking: Self.knockingPolicy(configuration))
        if let store = self.store {
            let recovered: RecoveredState
            let warnings: [String]
            if let journal {
                (recovered, warnings) = try journal.recover()
            } else {
                let snapshot = try store.load()
                (recovered, warnings) = (RecoveredState(snapshot), snapshot.warnings)
            }
            var clamped: Int
            let marks = recovered.marks
            (reasons, recentUsers, clamped) = Self.restore(recovered, configuration: configuration, now: clock.nowMilliseconds, into: gate)
            var shared = SharedAddresses(maximumKeys: configuration.trust.maxTrustedKeys)
            var names = RecencyTable<String, AccountTracker>(capacity: configuration.unknownNames.maxTrackedNames)
            let (kept, marksClamped) = Self.restoreMarks(marks, configuration: configuration, now: clock.nowMilliseconds,
                                                         into: &shared, names: &names, blocked: blockedLogins)
            clamped += marksClamped
            (sharedAddresses, unknownNames, addedSoftTrust) = (shared, names, kept.softTrust)
            softTrustInForce = configuration.softTrust + kept.softTrust.filter { !configuration.softTrust.contains($0) }
            gate.configure(allowlist: configuration.allowlist, softTrust: softTrustInForce, dryRun: configuration.dryRun,
                           knocking: Self.knockingPolicy(configuration))
            self.restored = RestoredState(bans: gate.liveBans, histories: gate.count - gate.liveBans, trustedKeys: gate.trustedCount,
                                     trustedAccounts: kept.trustedAccounts.count, blockedLogins: kept.blockedLogins.count,
                                     markedNames: kept.names.count, addedSoftTrust: kept.softTrust.count, clamped: clamped)
            for warning in warnings { events?(.storageWarning(warning)) }
            if clamped > 0 {
                events?(.storageWarning("clamped \(clamped) stored record(s) dated beyond what the configuration allows (maxBan, trust memory, or in the future)"))
            }
            if let journal {
                // An older snapshot format or damage found: write a fresh snapshot now, in the background.
                let (tables, reasonList, userList) = (gate, reasons.all, recentUsers.all)
                let markList = kept
                journal.compactIfOwed { StateImage(tables: tables.image(), reasons: reasonList, users: userList, marks: markList) }
            }
            store.subscribe { [weak self] notice in
                await self?.receive(notice)
            }
        } else {
            self.restored = RestoredState()
        }
    }

    /// Decides whether to serve a new connection from `ip`: call it right after `accept()`,
    /// before reading or writing a byte.
    ///
    /// Synchronous and callable from any thread. A ban stops refusing at the exact millisecond it
    /// expires. In dry run it always returns `true` and emits `refused(…, dryRun: true)` for
    /// connections a live run would refuse.
    ///
    /// - Parameter ip: The peer address from the `sockaddr` that `accept` filled.
    /// - Returns: `false` to close the connection at once.
    /// - Complexity: O(p) hash probes for p distinct ban prefix lengths in use (usually 1 or 2); no allocation.
    public nonisolated func shouldAccept(ip: IPAddress) -> Bool {
        switch gate.check(ip, clock: clock) {
        case .accepted:
            return true
        case .refused(let network):
            events?(.refused(address: ip, network: network, dryRun: false))
            return false
        case .acceptedInDryRun(let network):
            events?(.refused(address: ip, network: network, dryRun: true))
            return true
        }
    }

    /// Whether the greylist runs in dry run (nothing is refused).
    public nonisolated var isDryRun: Bool {
        gate.isDryRun
    }

    /// Reports a failed login from the authentication layer.
    ///
    /// The failure feeds every rule that counts its `kind` and whose pattern matches `user` (a
    /// rule without a pattern counts every such failure); the first rule in order that reaches
    /// `maxFailures` within its window bans the source's key (the address masked to the configured
    /// prefix length) for `banFor`, escalated for repeat offenders. A failure on an account under
    /// attack (``GreylistConfiguration/Spraying``) from a key that is not trusted bans at once.
    /// Enough rule-banned keys in one range ban the range (``GreylistConfiguration/Ranges``). On a
    /// trusted key a ban is soft: it closes this stream, and the accept path still serves the key.
    ///
    /// - Parameters:
    ///   - user: The authentication identity the client sent.
    ///   - ip: The connection's peer address.
    ///   - kind: What the server knows of the failure: a wrong password, an account that does not
    ///     exist, or ``AuthenticationFailure/serviceUnavailable`` when the server could not check
    ///     the credentials (reported, never counted).
    /// - Returns: What happened; ``FailureOutcome/closesStream`` is the verdict the caller acts
    ///   on (close the stream now), dry run included. With a store, a ban is returned only once
    ///   it is stored.
    @discardableResult
    public func recordFailedAuth(user: String, ip: IPAddress, kind: AuthenticationFailure = .invalidCredentials) async -> FailureOutcome {
        let outcome = countFailure(user: user, ip: ip, kind: kind)
        events?(.failureRecorded(user: user, address: ip, kind: kind, outcome: outcome))
        if case .banned = outcome { await acknowledgeStored() }
        return outcome
    }

    /// Reports a successful login: that account's failure counters on the source's key are
    /// cleared (not other accounts': a bot behind the same NAT is not forgiven), and the key is
    /// trusted for `trust.memory`. Active bans and escalation history stay; a rule ban on a
    /// trusted key is soft.
    ///
    /// - Parameters:
    ///   - user: The authenticated identity.
    ///   - ip: The connection's peer address.
    public func recordSuccessfulAuth(user: String, ip: IPAddress) {
        let key = banKey(for: ip)
        let now = clock.nowMilliseconds
        trackers.modify(key) { $0.clear(account: user) }
        if trackers[key]?.isEmpty == true { trackers.remove(key) }
        earnTrust(key, now: now)
        earnAccountTrust(user, on: key, now: now)
        sharedAddresses.clearGuesses(user, on: key)
    }

    /// Whether a login as `user` from `ip` may go to the credential check: `false` when `ip`'s key
    /// is a shared address (an office behind NAT, or a `softTrust` network) from which `user`
    /// has had its `trust.maxGuessesPerAccount` failed logins within `trust.guessWindow`. The
    /// host then answers the login as a wrong password without checking it (and reports the
    /// failure as usual), so a soft ban is not a free guessing channel. Synchronous and cheap:
    /// one lookup under a lock, no actor hop.
    ///
    /// ```swift
    /// let verdict = greylist.shouldVerify(user: user, ip: peer) ? accounts.check(user, password) : .invalidCredentials
    /// ```
    ///
    /// - Parameters:
    ///   - user: The account the client names.
    ///   - ip: The connection's peer address.
    /// - Returns: Whether to check the credentials.
    public nonisolated func shouldVerify(user: String, ip: IPAddress) -> Bool {
        let now = clock.nowMilliseconds
        return blockedLogins.withLock { blocked in
            guard !blocked.until.isEmpty, let end = blocked.until[SharedAddresses.Pair(key: blocked.key(for: ip), account: user)] else { return true }
            return end <= now
        }
    }

    /// `base × factor^times`, never above `max(cap, base)`.
    static func escalated(_ base: Int64, factor: Double, times: Int, cap: Int64) -> Int64 {
        let ceiling = max(cap, base)
        var length = Double(base)
        for _ in 0..<times where length < Double(ceiling) {
            length *= factor
        }
        return length >= Double(ceiling) ? ceiling : Int64(length)
    }

    /// The key a failure from `ip` is counted and banned under.
    func banKey(for ip: IPAddress) -> IPNetwork {
        IPNetwork(unchecked: ip, prefixLength: ip.isIPv4 ? configuration.prefixLength.ipv4 : configuration.prefixLength.ipv6)
    }

    func reportEvicted(counters evicted: [IPNetwork]) {
        counters.countersEvicted += evicted.count
        for key in evicted { events?(.counterEvicted(key)) }
    }
}

extension Int64 {
    /// Adds without trapping: saturates at the bounds.
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// Subtracts without trapping: saturates at the bounds.
    func subtractingClamped(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
