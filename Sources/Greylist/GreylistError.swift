/// An error from the greylist, naming the input that caused it. A struct with a code, so a new
/// kind of error breaks no client's `switch`: compare ``code``, read ``subject`` and ``reason``.
public struct GreylistError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of error.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name.
        public let description: String

        /// Text that is not an IP address.
        public static let invalidAddress = Code(description: "invalidAddress")
        /// Text or values that are not a CIDR network.
        public static let invalidNetwork = Code(description: "invalidNetwork")
        /// A rule's regular expression that does not compile.
        public static let invalidPattern = Code(description: "invalidPattern")
        /// A duration that is negative, zero where it must be positive, or unreadable.
        public static let invalidDuration = Code(description: "invalidDuration")
        /// The state store at a path cannot be used: read-only, full, damaged beyond use, …
        public static let storage = Code(description: "storage")
        /// The state directory is locked by another process (or another store in this one).
        public static let stateDirectoryInUse = Code(description: "stateDirectoryInUse")
        /// A configuration with one or more bad fields (``GreylistError/issues`` lists every one).
        public static let invalidConfiguration = Code(description: "invalidConfiguration")
    }

    /// The kind of error.
    public var code: Code
    /// The offending input: the text, the path, or the pattern.
    public var subject: String
    /// Why it is refused.
    public var reason: String
    /// For ``Code/invalidPattern``: the rule whose pattern it is.
    public var rule: String?
    /// For ``Code/invalidConfiguration``: every bad field.
    public var issues: [ConfigurationIssue]

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of error.
    ///   - subject: The offending input.
    ///   - reason: Why it is refused.
    ///   - rule: The rule, for a pattern.
    ///   - issues: The bad fields, for a configuration.
    public init(code: Code, subject: String, reason: String, rule: String? = nil, issues: [ConfigurationIssue] = []) {
        self.code = code
        self.subject = subject
        self.reason = reason
        self.rule = rule
        self.issues = issues
    }

    /// Text that is not an IP address.
    public static func invalidAddress(_ text: String, reason: String) -> GreylistError {
        GreylistError(code: .invalidAddress, subject: text, reason: reason)
    }

    /// Text or values that are not a CIDR network.
    public static func invalidNetwork(_ text: String, reason: String) -> GreylistError {
        GreylistError(code: .invalidNetwork, subject: text, reason: reason)
    }

    /// A rule's regular expression that does not compile: rule name, pattern, compiler's reason.
    public static func invalidPattern(rule: String, pattern: String, reason: String) -> GreylistError {
        GreylistError(code: .invalidPattern, subject: pattern, reason: reason, rule: rule)
    }

    /// A duration that is negative, zero where it must be positive, or unreadable.
    public static func invalidDuration(_ text: String, reason: String) -> GreylistError {
        GreylistError(code: .invalidDuration, subject: text, reason: reason)
    }

    /// The state store at `path` cannot be used.
    public static func storage(_ path: String, reason: String) -> GreylistError {
        GreylistError(code: .storage, subject: path, reason: reason)
    }

    /// The state directory at `path` is locked by another process.
    public static func stateDirectoryInUse(_ path: String) -> GreylistError {
        GreylistError(code: .stateDirectoryInUse, subject: path, reason: "in use by another process (lock held)")
    }

    /// A configuration with one or more bad fields; every one of them is listed.
    public static func invalidConfiguration(_ issues: [ConfigurationIssue]) -> GreylistError {
        GreylistError(code: .invalidConfiguration, subject: "", reason: "\(issues.count) problem\(issues.count == 1 ? "" : "s")", issues: issues)
    }

    /// A sentence that quotes the offending input.
    public var description: String {
        switch code {
        case .invalidAddress: return "invalid IP address \"\(subject)\": \(reason)"
        case .invalidNetwork: return "invalid network \"\(subject)\": \(reason)"
        case .invalidPattern: return "invalid pattern \"\(subject)\" in rule \"\(rule ?? "")\": \(reason)"
        case .invalidDuration: return "invalid duration \"\(subject)\": \(reason)"
        case .storage, .stateDirectoryInUse: return "state store \(subject): \(reason)"
        case .invalidConfiguration:
            let lines = issues.map { "  - \($0)" }.joined(separator: "\n")
            return "invalid configuration (\(reason)):\n\(lines)"
        default: return "\(subject): \(reason)"
        }
    }
}
