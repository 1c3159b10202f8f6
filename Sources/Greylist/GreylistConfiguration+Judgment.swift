extension GreylistConfiguration {
    /// The rules the README recommends (measured by the replay tool, BENCHMARKS.md):
    ///
    /// - `botnet`: a failure whose username matches `botnetPattern` bans for 4 hours at once
    ///   (mod_greylist's rule; skipped when `botnetPattern` is `nil`);
    /// - `unknown-accounts`: two failures on accounts that do not exist within an hour ban for 4 hours;
    /// - `guessing`: ten wrong passwords within 10 minutes ban for 1 hour.
    ///
    /// - Parameter botnetPattern: The names a bot uses that no user has, if any are known.
    /// - Returns: The rules, in order.
    public static func recommendedRules(botnetPattern: String? = nil) -> [GreylistRule] {
        var rules: [GreylistRule] = []
        if let botnetPattern {
            rules.append(GreylistRule(name: "botnet", pattern: botnetPattern, banFor: .seconds(4 * 3_600)))
        }
        rules.append(GreylistRule(name: "unknown-accounts", maxFailures: 2, window: .seconds(3_600), banFor: .seconds(4 * 3_600),
                                  counts: [.unknownAccount]))
        rules.append(GreylistRule(name: "guessing", maxFailures: 10, window: .seconds(600), banFor: .seconds(3_600),
                                  counts: [.invalidCredentials]))
        return rules
    }

    /// Trust earned by a successful login: a key that logged in recently is never refused at
    /// accept by a rule ban; such a ban is *soft* and only closes a stream at its failed login.
    public struct Trust: Hashable, Sendable {
        /// How long a successful login keeps its key trusted; zero turns trust off.
        public var memory: Duration
        /// The most trusted keys remembered; past it the soonest-expiring trust is dropped.
        public var maxTrustedKeys: Int
        /// Wrong passwords for this many distinct existing accounts within `revokeWindow` take a
        /// key's trust away (a bot holding one stolen password cannot hide behind it).
        public var revokeAfterAccounts: Int
        /// How far back `revokeAfterAccounts` looks.
        public var revokeWindow: Duration
        /// Distinct accounts that logged in from a key within `memory` that make it a *shared
        /// address* (an office or a campus behind NAT): wrong passwords there no longer take its
        /// trust away, failures on accounts that never logged in from it close their stream, and
        /// the guesses any one account can receive from it are bounded by `maxGuessesPerAccount`.
        /// A key with fewer accounts (a bot holding one stolen password) keeps the stricter rule
        /// of `revokeAfterAccounts`. Zero turns shared addresses off.
        public var sharedAddressAccounts: Int
        /// Failed logins one account may receive from one shared address within `guessWindow`;
        /// past it, ``Greylist/shouldVerify(user:ip:)`` says no until the window moves on, so a
        /// soft ban is not a free guessing channel.
        public var maxGuessesPerAccount: Int
        /// The window of `maxGuessesPerAccount`.
        public var guessWindow: Duration

        /// Creates a trust policy.
        ///
        /// - Parameters:
        ///   - memory: Default 30 days; zero disables trust.
        ///   - maxTrustedKeys: At least 1; default 100,000.
        ///   - revokeAfterAccounts: At least 2; default 3.
        ///   - revokeWindow: Default 1 hour.
        ///   - sharedAddressAccounts: Zero or at least 2; default 3.
        ///   - maxGuessesPerAccount: At least 1; default 10.
        ///   - guessWindow: Default 1 day.
        public init(memory: Duration = .seconds(30 * 86_400), maxTrustedKeys: Int = 100_000,
                    revokeAfterAccounts: Int = 3, revokeWindow: Duration = .seconds(3_600),
                    sharedAddressAccounts: Int = 3, maxGuessesPerAccount: Int = 10, guessWindow: Duration = .seconds(86_400)) {
            self.memory = memory
            self.maxTrustedKeys = maxTrustedKeys
            self.revokeAfterAccounts = revokeAfterAccounts
            self.revokeWindow = revokeWindow
            self.sharedAddressAccounts = sharedAddressAccounts
            self.maxGuessesPerAccount = maxGuessesPerAccount
            self.guessWindow = guessWindow
        }
    }

    /// Rule bans that last while their source keeps knocking.
    public struct Knocking: Hashable, Sendable {
        /// Whether a refused connection extends its rule ban.
        public var extendBans: Bool
        /// A refused connection keeps its ban in force, from the refusal, at least this long and
        /// at least `escalation.factor` times as long as the source has been knocking since the
        /// ban began; never past `escalation.maxBan` after the ban began.
        public var extendBy: Duration

        /// Creates a knocking policy.
        ///
        /// - Parameters:
        ///   - extendBans: Default true.
        ///   - extendBy: Default 4 hours.
        public init(extendBans: Bool = true, extendBy: Duration = .seconds(4 * 3_600)) {
            self.extendBans = extendBans
            self.extendBy = extendBy
        }
    }

    /// One account failing from many sources: a password-spraying or credential-stuffing run.
    public struct Spraying: Hashable, Sendable {
        /// Failures on one username from this many distinct keys within `window` mark it as under
        /// attack; zero turns the detection off.
        public var distinctSources: Int
        /// How far back distinct sources are counted.
        public var window: Duration
        /// How long an account stays marked once marked (renewed while the attack goes on).
        public var markFor: Duration
        /// Failures on a marked account from one untrusted key that ban it: 1 bans at once; the
        /// default 2 spares an owner on a new address who mistypes once and then gets it right
        /// (the success clears that failure), at the cost of one more try per spraying source.
        public var failuresToBan: Int
        /// The ban for a failure on a marked account from an untrusted key (escalated as usual).
        public var banFor: Duration
        /// The most usernames tracked; past it the least recently failing is dropped.
        public var maxTrackedAccounts: Int

        /// Creates a spraying policy.
        ///
        /// - Parameters:
        ///   - distinctSources: Zero or at least 2; default 5.
        ///   - window: Default 1 hour.
        ///   - markFor: Default 1 day.
        ///   - failuresToBan: 1...100; default 2.
        ///   - banFor: Default 4 hours.
        ///   - maxTrackedAccounts: At least 1; default 10,000.
        public init(distinctSources: Int = 5, window: Duration = .seconds(3_600), markFor: Duration = .seconds(86_400),
                    failuresToBan: Int = 2, banFor: Duration = .seconds(4 * 3_600), maxTrackedAccounts: Int = 10_000) {
            self.distinctSources = distinctSources
            self.window = window
            self.markFor = markFor
            self.failuresToBan = failuresToBan
            self.banFor = banFor
            self.maxTrackedAccounts = maxTrackedAccounts
        }
    }

    /// Ranges banned when enough keys inside them are banned, as CrowdSec's range decisions.
    public struct Ranges: Hashable, Sendable {
        /// Rule-banned keys inside one range within `window` that ban the range; zero turns it off.
        public var bannedKeys: Int
        /// The IPv4 range's prefix length (default /24); ranges apply only to keys longer than it.
        public var ipv4PrefixLength: Int
        /// The IPv6 range's prefix length (default /48).
        public var ipv6PrefixLength: Int
        /// How far back banned keys are counted.
        public var window: Duration
        /// The range ban's length (escalated as usual).
        public var banFor: Duration
        /// The most ranges tracked; past it the least recently touched is dropped.
        public var maxTrackedRanges: Int

        /// Creates a range policy.
        ///
        /// - Parameters:
        ///   - bannedKeys: Zero or at least 2; default 8.
        ///   - ipv4PrefixLength: 8...31; default 24.
        ///   - ipv6PrefixLength: 16...127; default 48.
        ///   - window: Default 1 day.
        ///   - banFor: Default 4 hours.
        ///   - maxTrackedRanges: At least 1; default 10,000.
        public init(bannedKeys: Int = 8, ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 48, window: Duration = .seconds(86_400),
                    banFor: Duration = .seconds(4 * 3_600), maxTrackedRanges: Int = 10_000) {
            self.bannedKeys = bannedKeys
            self.ipv4PrefixLength = ipv4PrefixLength
            self.ipv6PrefixLength = ipv6PrefixLength
            self.window = window
            self.banFor = banFor
            self.maxTrackedRanges = maxTrackedRanges
        }
    }

    /// Usernames that do not exist and that several unrelated sources try: a bot's dictionary
    /// (`admin`, `test`, `info`, …). Such a name has no owner to lock out, so once it is marked a
    /// failure on it from an untrusted key bans at once, however slowly the bot tries: the
    /// evidence lives for days, not for one rule's window. Sources that logged in since (a user
    /// who mistyped, then got it right) do not count toward marking a name.
    public struct UnknownNames: Hashable, Sendable {
        /// Distinct untrusted keys failing on one unknown name within `window` that mark it;
        /// zero turns the detection off.
        public var distinctSources: Int
        /// How far back distinct sources are counted.
        public var window: Duration
        /// How long a name stays marked (renewed by each failure on it).
        public var markFor: Duration
        /// The ban for a failure on a marked name from an untrusted key (escalated as usual).
        public var banFor: Duration
        /// The most names tracked; past it the least recently failing is dropped.
        public var maxTrackedNames: Int

        /// Creates the policy.
        ///
        /// - Parameters:
        ///   - distinctSources: Zero or at least 2; default 3.
        ///   - window: Default 7 days.
        ///   - markFor: Default 7 days.
        ///   - banFor: Default 1 day.
        ///   - maxTrackedNames: At least 1; default 10,000.
        public init(distinctSources: Int = 3, window: Duration = .seconds(7 * 86_400), markFor: Duration = .seconds(7 * 86_400),
                    banFor: Duration = .seconds(86_400), maxTrackedNames: Int = 10_000) {
            self.distinctSources = distinctSources
            self.window = window
            self.markFor = markFor
            self.banFor = banFor
            self.maxTrackedNames = maxTrackedNames
        }
    }

    /// Every problem in the judgment sections, with paths below `path`.
    func judgmentIssues(path: String) -> [ConfigurationIssue] {
        func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
        var issues: [ConfigurationIssue] = []
        func positive(_ key: String, _ value: Duration, allowZero: Bool = false) {
            if allowZero ? value < .zero : value <= .zero {
                issues.append(.init(path: at(key), value: "\(value)", reason: allowZero ? "cannot be negative" : "must be longer than zero"))
            }
        }
        func atLeast(_ key: String, _ value: Int, _ minimum: Int, orZero: Bool = false) {
            if value < minimum && !(orZero && value == 0) {
                issues.append(.init(path: at(key), value: "\(value)", reason: orZero ? "must be 0 (off) or at least \(minimum)" : "must be at least \(minimum)"))
            }
        }
        positive("trust.memory", trust.memory, allowZero: true)
        atLeast("trust.maxTrustedKeys", trust.maxTrustedKeys, 1)
        atLeast("trust.revokeAfterAccounts", trust.revokeAfterAccounts, 2)
        positive("trust.revokeWindow", trust.revokeWindow)
        atLeast("trust.sharedAddressAccounts", trust.sharedAddressAccounts, 2, orZero: true)
        atLeast("trust.maxGuessesPerAccount", trust.maxGuessesPerAccount, 1)
        positive("trust.guessWindow", trust.guessWindow)
        positive("knocking.extendBy", knocking.extendBy)
        atLeast("spraying.distinctSources", spraying.distinctSources, 2, orZero: true)
        positive("spraying.window", spraying.window)
        positive("spraying.markFor", spraying.markFor)
        positive("spraying.banFor", spraying.banFor)
        if !(1...100).contains(spraying.failuresToBan) {
            issues.append(.init(path: at("spraying.failuresToBan"), value: "\(spraying.failuresToBan)", reason: "must be 1...100"))
        }
        atLeast("spraying.maxTrackedAccounts", spraying.maxTrackedAccounts, 1)
        atLeast("ranges.bannedKeys", ranges.bannedKeys, 2, orZero: true)
        if !(8...31).contains(ranges.ipv4PrefixLength) {
            issues.append(.init(path: at("ranges.ipv4PrefixLength"), value: "\(ranges.ipv4PrefixLength)", reason: "must be 8...31"))
        }
        if !(16...127).contains(ranges.ipv6PrefixLength) {
            issues.append(.init(path: at("ranges.ipv6PrefixLength"), value: "\(ranges.ipv6PrefixLength)", reason: "must be 16...127"))
        }
        positive("ranges.window", ranges.window)
        positive("ranges.banFor", ranges.banFor)
        atLeast("ranges.maxTrackedRanges", ranges.maxTrackedRanges, 1)
        atLeast("unknownNames.distinctSources", unknownNames.distinctSources, 2, orZero: true)
        positive("unknownNames.window", unknownNames.window)
        positive("unknownNames.markFor", unknownNames.markFor)
        positive("unknownNames.banFor", unknownNames.banFor)
        atLeast("unknownNames.maxTrackedNames", unknownNames.maxTrackedNames, 1)
        return issues
    }
}
