import Greylist

/// Which greylist events become log lines, one at a time, and which only feed the summary.
enum EventLogPolicy {
    /// The line to log for `event`, or `nil` when the periodic summary covers it.
    static func line(for event: GreylistEvent) -> (level: Log.Level, text: String)? {
        switch event {
        case .sharedFailureCounted:
            // The node that saw the failure logged it; here it is only counted.
            return (.debug, event.description)
        case .refused, .counterEvicted, .banEvicted:
            // Per-connection and per-eviction lines are what make a flood expensive to log:
            // these are summarised periodically instead.
            return nil
        case .failureRecorded(_, _, let kind, let outcome):
            if case .banned = outcome { return nil }  // the ban line says it all
            return (.info, kind.isClientFault ? event.description : "\(event.description) (not counted)")
        case .storageFailed:
            return (.error, event.description)
        case .trustRevoked, .accountUnderAttack:
            return (.warning, event.description)
        case .storageWarning:
            return (.warning, event.description)
        case .sharedStoreChanged(let available, _):
            return (available ? .info : .warning, event.description)
        default:
            return (.info, event.description)
        }
    }

    /// A sink for the greylist that logs through `log` by this policy; failed-login lines spend
    /// from `failedLogins` and are only counted once it is spent.
    static func sink(_ log: Log, failedLogins: LineBudget) -> @Sendable (GreylistEvent) -> Void {
        { event in
            guard let (level, text) = line(for: event) else { return }
            if case .failureRecorded = event, !failedLogins.spend() { return }
            log.write(level, text)
        }
    }
}
