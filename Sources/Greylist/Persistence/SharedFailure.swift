#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A failed login one node counted for one threshold rule, passed to the other nodes of a
/// cluster so tries spread over the nodes count together.
public struct SharedFailure: Hashable, Sendable {
    /// The ban key the failure was counted under.
    public var key: IPNetwork
    /// The rule that counted it.
    public var rule: String
    /// The username the client sent (a success on that account clears it, as locally).
    public var account: String
    /// When it happened.
    public var at: Date

    /// Creates a shared failure.
    ///
    /// - Parameters:
    ///   - key: The ban key.
    ///   - rule: The rule's name.
    ///   - account: The username tried.
    ///   - at: When.
    public init(key: IPNetwork, rule: String, account: String, at: Date) {
        self.key = key
        self.rule = rule
        self.account = account
        self.at = at
    }
}
