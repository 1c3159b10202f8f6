/// Everything that tunes a ``Greylist``: rules, allowlist, ban keys, escalation, memory caps.
///
/// Every field has a default, so `GreylistConfiguration()` is a working greylist that bans nothing until
/// rules are added. ``validate()`` reports every bad field at once; the JSON form (see
/// `GreylistConfiguration+JSON.swift`) uses exactly the field names below.
public struct GreylistConfiguration: Hashable, Sendable {
    /// How many leading bits of an address form the ban key, per family.
    public struct PrefixLength: Hashable, Sendable {
        /// Bits of an IPv4 address that form its key: 32 bans single addresses.
        public var ipv4: Int
        /// Bits of an IPv6 address that form its key: 64 bans the whole /64 a botnet host rotates in.
        public var ipv6: Int

        /// Creates prefix lengths.
        ///
        /// - Parameters:
        ///   - ipv4: 1...32; default 32.
        ///   - ipv6: 1...128; default 64.
        public init(ipv4: Int = 32, ipv6: Int = 64) {
            self.ipv4 = ipv4
            self.ipv6 = ipv6
        }
    }

    /// How repeat offenders get longer bans.
    public struct Escalation: Hashable, Sendable {
        /// The multiplier per earlier ban: the n-th repeat lasts `banFor × factor^n`. 1 disables escalation.
        public var factor: Double
        /// The longest ban escalation may reach.
        public var maxBan: Duration
        /// How long after its last ban ended a key's history is forgotten.
        public var forgetAfter: Duration

        /// Creates an escalation policy.
        ///
        /// - Parameters:
        ///   - factor: 1...1000; default 2.
        ///   - maxBan: The cap; default 7 days.
        ///   - forgetAfter: The memory; default 1 day.
        public init(factor: Double = 2, maxBan: Duration = .seconds(7 * 86_400), forgetAfter: Duration = .seconds(86_400)) {
            self.factor = factor
            self.maxBan = maxBan
            self.forgetAfter = forgetAfter
        }
    }

    /// Caps that keep memory bounded under any flood.
    public struct Limits: Hashable, Sendable {
        /// The most entries in the ban table: bans in force plus ended rule bans kept as escalation
        /// history until `forgetAfter`. Past it a batch of the soonest-expiring (histories first,
        /// then bans; 1/64 of the cap) is evicted in one pass.
        public var maxBans: Int
        /// The most addresses with failure counters (sources that failed but are not banned);
        /// past it the least recently seen is evicted.
        public var maxTrackedAddresses: Int
        /// The longest ban another node's record may place here (a longer one is shortened to
        /// it), so a node with the cluster's key cannot lock a network out for years on every
        /// node. Bans made here, by an operator, are not capped.
        public var maxRemoteBan: Duration = .seconds(30 * 86_400)

        /// Creates limits.
        ///
        /// - Parameters:
        ///   - maxBans: At least 1; default 100,000.
        ///   - maxTrackedAddresses: At least 1; default 100,000.
        ///   - maxRemoteBan: At least a second; default 30 days.
        public init(maxBans: Int = 100_000, maxTrackedAddresses: Int = 100_000, maxRemoteBan: Duration = .seconds(30 * 86_400)) {
            self.maxBans = maxBans
            self.maxTrackedAddresses = maxTrackedAddresses
            self.maxRemoteBan = maxRemoteBan
        }
    }

    /// When true, rules, bans and events run as usual but ``Greylist/shouldAccept(ip:)`` accepts
    /// everything; `refused` events carry `dryRun: true` to say what would have been refused.
    public var dryRun: Bool
    /// Networks that are never banned and never counted.
    public var allowlist: [IPNetwork]
    /// Networks whose bans are always soft, as if every key in them were trusted: an office, a
    /// university, a carrier's CGNAT range, known before any of its users has logged in (the
    /// day the greylist is deployed). Their failures still count, close their stream and use up
    /// the guess budget of shared addresses; only refusal at accept is off. Unlike the
    /// allowlist, which never counts at all.
    public var softTrust: [IPNetwork]
    /// The ban key's prefix length per family.
    public var prefixLength: PrefixLength
    /// The rules, in order: a failure feeds every rule that matches it; the first that trips bans.
    public var rules: [GreylistRule]
    /// Longer bans for repeat offenders.
    public var escalation: Escalation
    /// Memory caps.
    public var limits: Limits
    /// Trust earned by successful logins.
    public var trust: Trust
    /// Bans that last while their source keeps knocking.
    public var knocking: Knocking
    /// One account failing from many sources.
    public var spraying: Spraying
    /// Ranges banned when enough keys inside are.
    public var ranges: Ranges
    /// Usernames that do not exist and that many unrelated sources try: bot names.
    public var unknownNames: UnknownNames
    /// How often expired entries are purged by ``Greylist/run()``.
    public var cleanupInterval: Duration
    /// Where bans survive restarts (a ``JournalStore``); `nil` or empty keeps them in memory only.
    public var stateDirectory: String?
    /// Whether stored changes are `fsync`ed before they count as stored (default `true`);
    /// `false` survives a process crash but not a power cut.
    public var stateSync: Bool

    /// Creates a configuration; every argument has a default.
    ///
    /// - Parameters:
    ///   - dryRun: Observe without refusing; default false.
    ///   - allowlist: Never-banned networks; default none.
    ///   - softTrust: Networks whose bans are always soft; default none.
    ///   - prefixLength: Ban key lengths; default /32 and /64.
    ///   - rules: The rules; default none.
    ///   - escalation: Repeat-offender policy; default ×2 up to 7 days, forgotten after 1 day.
    ///   - limits: Memory caps; default 100,000 each.
    ///   - trust: Trust by success; default 30 days.
    ///   - knocking: Extension of bans by refused connections; default on, 4 hours.
    ///   - spraying: Accounts under attack; default 5 sources within an hour.
    ///   - ranges: Range bans; default 8 keys in a /24 or /48 within a day.
    ///   - unknownNames: Bot names; default 3 untrusted sources within 7 days, a ban of a day.
    ///   - cleanupInterval: Purge period; default 10 minutes.
    ///   - stateDirectory: The state directory; default none (memory only).
    ///   - stateSync: `fsync` before acknowledging; default true.
    public init(
        dryRun: Bool = false,
        allowlist: [IPNetwork] = [],
        softTrust: [IPNetwork] = [],
        prefixLength: PrefixLength = .init(),
        rules: [GreylistRule] = [],
        escalation: Escalation = .init(),
        limits: Limits = .init(),
        trust: Trust = .init(),
        knocking: Knocking = .init(),
        spraying: Spraying = .init(),
        ranges: Ranges = .init(),
        unknownNames: UnknownNames = .init(),
        cleanupInterval: Duration = .seconds(600),
        stateDirectory: String? = nil,
        stateSync: Bool = true
    ) {
        self.dryRun = dryRun
        self.allowlist = allowlist
        self.softTrust = softTrust
        self.prefixLength = prefixLength
        self.rules = rules
        self.escalation = escalation
        self.limits = limits
        self.trust = trust
        self.knocking = knocking
        self.spraying = spraying
        self.unknownNames = unknownNames
        self.ranges = ranges
        self.cleanupInterval = cleanupInterval
        self.stateDirectory = stateDirectory
        self.stateSync = stateSync
    }

    /// Checks every field and reports all problems at once.
    ///
    /// - Throws: ``GreylistError/invalidConfiguration(_:)`` listing each bad field with its path
    ///   and value, including a pattern's compiler message.
    public func validate() throws(GreylistError) {
        let issues = issues(path: "")
        guard issues.isEmpty else { throw .invalidConfiguration(issues) }
    }

    /// Every problem, with paths below `path` (empty for top level).
    func issues(path: String) -> [ConfigurationIssue] {
        func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        var issues: [ConfigurationIssue] = []
        if !(1...32).contains(prefixLength.ipv4) {
            issues.append(.init(path: at("prefixLength.ipv4"), value: "\(prefixLength.ipv4)", reason: "must be 1...32"))
        }
        if !(1...128).contains(prefixLength.ipv6) {
            issues.append(.init(path: at("prefixLength.ipv6"), value: "\(prefixLength.ipv6)", reason: "must be 1...128"))
        }
        var names: Set<String> = []
        for (index, rule) in rules.enumerated() {
            issues += rule.issues(path: at("rules[\(index)]"))
            if !rule.name.isEmpty && !names.insert(rule.name).inserted {
                issues.append(.init(path: at("rules[\(index)].name"), value: "\"\(rule.name)\"", reason: "another rule has this name"))
            }
        }
        if !(1...1_000).contains(escalation.factor) || escalation.factor.isNaN {
            issues.append(.init(path: at("escalation.factor"), value: "\(escalation.factor)", reason: "must be 1...1000"))
        }
        if escalation.maxBan <= .zero {
            issues.append(.init(path: at("escalation.maxBan"), value: "\(escalation.maxBan)", reason: "must be longer than zero"))
        }
        if escalation.forgetAfter < .zero {
            issues.append(.init(path: at("escalation.forgetAfter"), value: "\(escalation.forgetAfter)", reason: "cannot be negative"))
        }
        if limits.maxBans < 1 {
            issues.append(.init(path: at("limits.maxBans"), value: "\(limits.maxBans)", reason: "must be at least 1"))
        }
        if limits.maxRemoteBan < .seconds(1) {
            issues.append(.init(path: at("limits.maxRemoteBan"), value: limits.maxRemoteBan.configurationText, reason: "must be at least 1s"))
        }
        if limits.maxTrackedAddresses < 1 {
            issues.append(.init(path: at("limits.maxTrackedAddresses"), value: "\(limits.maxTrackedAddresses)", reason: "must be at least 1"))
        }
        if cleanupInterval <= .zero {
            issues.append(.init(path: at("cleanupInterval"), value: "\(cleanupInterval)", reason: "must be longer than zero"))
        }
        return issues + judgmentIssues(path: path)
    }
}
