/// One bad field found while reading or validating a configuration.
public struct ConfigurationIssue: Hashable, Sendable, CustomStringConvertible {
    /// Where the field is, as a path such as `greylist.rules[0].banFor`.
    public var path: String
    /// The offending value as written, or an empty string when the field is missing.
    public var value: String
    /// Why the value is refused.
    public var reason: String

    /// Creates an issue.
    ///
    /// - Parameters:
    ///   - path: The field's path.
    ///   - value: The offending value as text.
    ///   - reason: Why it is refused.
    public init(path: String, value: String, reason: String) {
        self.path = path
        self.value = value
        self.reason = reason
    }

    /// `path = value: reason`, ready for a log line.
    public var description: String {
        value.isEmpty ? "\(path): \(reason)" : "\(path) = \(value): \(reason)"
    }
}
