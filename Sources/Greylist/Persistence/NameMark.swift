#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An unknown username marked as a bot's (``GreylistConfiguration/UnknownNames``) until a time:
/// a failure on it from an untrusted key bans at once.
public struct NameMark: Hashable, Sendable {
    /// The username.
    public var name: String
    /// When the mark ends.
    public var until: Date

    /// Creates a mark.
    ///
    /// - Parameters:
    ///   - name: The username.
    ///   - until: The end of the mark.
    public init(name: String, until: Date) {
        self.name = name
        self.until = until
    }
}
