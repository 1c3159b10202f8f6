/// A login rule: which failed logins count, how many trip it, and how long the ban lasts.
///
/// A rule with a `pattern` counts only failures whose username matches it; a rule without one
/// counts every credential failure. The defaults reproduce ejabberd's mod_greylist: one matching
/// failure bans for four hours.
public struct GreylistRule: Hashable, Sendable {
    /// The rule's name, shown in events, logs and ban listings.
    public var name: String
    /// A regular expression on the username, searched anywhere in the name (anchor it with
    /// `^…$` to match whole names), in the linear-time syntax of "Pattern syntax" in <doc:AdoptingGreylist>:
    /// matching never backtracks. `nil` counts every credential failure.
    public var pattern: String?
    /// How many counted failures within `window` trip the rule (1: the first one bans).
    public var maxFailures: Int
    /// How far back failures are counted.
    public var window: Duration
    /// How long the first ban lasts, before escalation.
    public var banFor: Duration
    /// Which kinds of failure the rule counts; `serviceUnavailable` is never counted.
    public var counts: Set<AuthenticationFailure>

    /// Creates a rule.
    ///
    /// - Parameters:
    ///   - name: The rule's name.
    ///   - pattern: A regular expression on the username, or `nil` for every failure.
    ///   - maxFailures: Failures within `window` that trip the rule; at least 1.
    ///   - window: How far back failures count.
    ///   - banFor: The first ban's length.
    ///   - counts: The kinds of failure counted; default wrong passwords and unknown accounts.
    public init(
        name: String,
        pattern: String? = nil,
        maxFailures: Int = 1,
        window: Duration = .seconds(600),
        banFor: Duration = .seconds(4 * 3_600),
        counts: Set<AuthenticationFailure> = [.invalidCredentials, .unknownAccount]
    ) {
        self.name = name
        self.pattern = pattern
        self.maxFailures = maxFailures
        self.window = window
        self.banFor = banFor
        self.counts = counts
    }

    /// The rule as an operator reads it, one line: what it counts, how many within what window,
    /// and the ban (`guessing: wrong passwords, 10 within 10m, ban 1h`;
    /// `botnet: failures on names matching ^bad_user_[0-9]{5,}$, 1 within 10m, ban 4h`). The
    /// pattern is escaped for a log line.
    public var summary: String {
        let kinds: String
        switch (counts.contains(.invalidCredentials), counts.contains(.unknownAccount)) {
        case (true, true): kinds = "failures"
        case (true, false): kinds = "wrong passwords"
        case (false, true): kinds = "unknown accounts"
        case (false, false): kinds = "nothing"
        }
        let matching = pattern.map { " on names matching \(OperatorText.escaped($0))" } ?? ""
        return "\(OperatorText.escaped(name)): \(kinds)\(matching), \(maxFailures) within \(window.configurationText), ban \(banFor.configurationText)"
    }

    /// Whether this rule's pattern is found in `username` (a rule without a pattern matches
    /// every name), as the greylist matches it: in linear time, on the first 1,024 bytes.
    ///
    /// Handy for trying a pattern before deploying it; it compiles the pattern on each call.
    ///
    /// - Parameter username: A username.
    /// - Returns: Whether the rule's pattern matches it.
    /// - Throws: ``GreylistError/invalidPattern(rule:pattern:reason:)`` when the pattern is not accepted.
    public func matches(_ username: String) throws(GreylistError) -> Bool {
        guard let pattern else { return true }
        do throws(PatternError) {
            return try LinearPattern(pattern).matches(username)
        } catch {
            throw .invalidPattern(rule: name, pattern: pattern, reason: error.description)
        }
    }

    /// Every problem with this rule's values, with paths below `path`.
    func issues(path: String) -> [ConfigurationIssue] {
        var issues: [ConfigurationIssue] = []
        if name.isEmpty {
            issues.append(.init(path: "\(path).name", value: "\"\"", reason: "a rule needs a name"))
        }
        if let pattern {
            do throws(PatternError) {
                _ = try LinearPattern(pattern)
            } catch {
                issues.append(.init(path: "\(path).pattern", value: "\"\(pattern)\"", reason: "does not compile: \(error.description)"))
            }
        }
        if maxFailures < 1 {
            issues.append(.init(path: "\(path).maxFailures", value: "\(maxFailures)", reason: "must be at least 1"))
        }
        if window <= .zero {
            issues.append(.init(path: "\(path).window", value: "\(window)", reason: "must be longer than zero"))
        }
        if banFor <= .zero {
            issues.append(.init(path: "\(path).banFor", value: "\(banFor)", reason: "must be longer than zero"))
        }
        if counts.isEmpty || counts.contains(.serviceUnavailable) {
            issues.append(.init(path: "\(path).counts", value: counts.map(\.rawValue).sorted().description,
                                reason: "expected one or both of \"invalidCredentials\" and \"unknownAccount\""))
        }
        return issues
    }
}
