/// An error from the greylist, naming the input that caused it.
public enum GreylistError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Text that is not an IP address.
    case invalidAddress(String, reason: String)
    /// Text or values that are not a CIDR network.
    case invalidNetwork(String, reason: String)
    /// A rule's regular expression that does not compile: rule name, pattern, compiler's reason.
    case invalidPattern(rule: String, pattern: String, reason: String)
    /// A duration that is negative, zero where it must be positive, or unreadable.
    case invalidDuration(String, reason: String)
    /// The state store at a path cannot be used: read-only, full, locked by another process, …
    case storage(String, reason: String)
    /// A configuration with one or more bad fields; every one of them is listed.
    case invalidConfiguration([ConfigurationIssue])

    /// A sentence that quotes the offending input.
    public var description: String {
        switch self {
        case .invalidAddress(let text, let reason):
            return "invalid IP address \"\(text)\": \(reason)"
        case .invalidNetwork(let text, let reason):
            return "invalid network \"\(text)\": \(reason)"
        case .invalidPattern(let rule, let pattern, let reason):
            return "invalid pattern \"\(pattern)\" in rule \"\(rule)\": \(reason)"
        case .invalidDuration(let text, let reason):
            return "invalid duration \"\(text)\": \(reason)"
        case .storage(let path, let reason):
            return "state store \(path): \(reason)"
        case .invalidConfiguration(let issues):
            let lines = issues.map { "  - \($0)" }.joined(separator: "\n")
            return "invalid configuration (\(issues.count) problem\(issues.count == 1 ? "" : "s")):\n\(lines)"
        }
    }
}
