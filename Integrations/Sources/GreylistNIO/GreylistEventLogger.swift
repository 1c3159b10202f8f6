import Greylist
import Logging

/// Greylist events as swift-log lines: one event, one line, at a level an operator filters on,
/// with the event's kind as metadata (`greylist.event`). Every piece of network-supplied text in
/// a line is escaped by the library (`GreylistEvent/description`), so a username cannot forge
/// a line. Refusals (the accept path, a flood's worth) log at `trace`.
///
/// ```swift
/// let greylist = try Greylist(configuration: configuration, events: GreylistEventLogger(logger: logger).sink)
/// ```
public struct GreylistEventLogger: Sendable {
    /// Where the lines go.
    public let logger: Logger

    /// Creates the adapter.
    ///
    /// - Parameter logger: The logger to write to.
    public init(logger: Logger) {
        self.logger = logger
    }

    /// The greylist's event sink.
    public var sink: @Sendable (GreylistEvent) -> Void {
        { event in log(event) }
    }

    /// Writes one event.
    ///
    /// - Parameter event: The event.
    public func log(_ event: GreylistEvent) {
        let (level, kind) = Self.classify(event)
        guard logger.logLevel <= level else { return }
        logger.log(level: level, "\(event.description)", metadata: ["greylist.event": "\(kind)"])
    }

    /// The level and short name of an event.
    static func classify(_ event: GreylistEvent) -> (Logger.Level, String) {
        switch event {
        case .refused: return (.trace, "refused")
        case .sharedFailureCounted: return (.debug, "shared-failure")
        case .counterEvicted: return (.debug, "counter-evicted")
        case .failureRecorded: return (.info, "failure")
        case .banned: return (.notice, "banned")
        case .expired: return (.info, "expired")
        case .unbanned: return (.notice, "unbanned")
        case .banEvicted: return (.warning, "ban-evicted")
        case .storageWarning: return (.warning, "storage-warning")
        case .storageFailed: return (.error, "storage-failed")
        case .sharedStoreChanged(let available, _): return (available ? .notice : .warning, "shared-store")
        case .reconfigured: return (.notice, "reconfigured")
        case .trustRevoked: return (.warning, "trust-revoked")
        case .accountUnderAttack: return (.warning, "account-under-attack")
        case .nameMarked: return (.notice, "name-marked")
        case .loginsBlocked: return (.warning, "logins-blocked")
        case .softTrustChanged: return (.notice, "soft-trust")
        }
    }
}
