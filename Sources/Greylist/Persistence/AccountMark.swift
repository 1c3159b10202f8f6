#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One account on one key, remembered until a time: an account that logged in from a shared
/// address (its trust there), or one whose password guesses from a shared address are used up.
public struct AccountMark: Hashable, Sendable {
    /// The key (the address masked to the configured prefix length).
    public var network: IPNetwork
    /// The account.
    public var account: String
    /// When the mark ends.
    public var until: Date

    /// Creates a mark.
    ///
    /// - Parameters:
    ///   - network: The key.
    ///   - account: The account.
    ///   - until: The end of the mark.
    public init(network: IPNetwork, account: String, until: Date) {
        self.network = network
        self.account = account
        self.until = until
    }
}
