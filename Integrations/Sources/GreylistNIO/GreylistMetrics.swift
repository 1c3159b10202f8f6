import Greylist
import Metrics

/// Greylist counters and gauges for swift-metrics: counters follow the events as they happen,
/// gauges follow `Greylist/statistics()` when ``record(_:)`` is called (a periodic task).
///
/// Counters: `greylist_refused_total`, `greylist_bans_total` (dimension `reason`: `rule` or
/// `manual`), `greylist_failures_total` (dimension `outcome`: `banned`, `counted`, …),
/// `greylist_unbans_total`, `greylist_expired_total`, `greylist_evictions_total`,
/// `greylist_storage_failures_total`. Gauges: `greylist_active_bans`,
/// `greylist_tracked_addresses`, `greylist_trusted_keys`, `greylist_shared_store_available`.
public final class GreylistMetrics: Sendable {
    private let refused = Counter(label: "greylist_refused_total")
    private let ruleBans = Counter(label: "greylist_bans_total", dimensions: [("reason", "rule")])
    private let manualBans = Counter(label: "greylist_bans_total", dimensions: [("reason", "manual")])
    private let unbans = Counter(label: "greylist_unbans_total")
    private let expired = Counter(label: "greylist_expired_total")
    private let evictions = Counter(label: "greylist_evictions_total")
    private let storageFailures = Counter(label: "greylist_storage_failures_total")
    private let failures: [String: Counter] = Dictionary(uniqueKeysWithValues: ["banned", "already-banned", "counted", "no-rule", "allowlisted", "not-client-fault", "shared-address"].map {
        ($0, Counter(label: "greylist_failures_total", dimensions: [("outcome", $0)]))
    })
    private let activeBans = Gauge(label: "greylist_active_bans")
    private let trackedAddresses = Gauge(label: "greylist_tracked_addresses")
    private let trustedKeys = Gauge(label: "greylist_trusted_keys")
    private let sharedStore = Gauge(label: "greylist_shared_store_available")

    /// Creates the metrics (registered with the bootstrapped `MetricsSystem`).
    public init() {}

    /// The greylist's event sink; chain it with a logger's: `{ metrics.sink($0); logger.sink($0) }`.
    public var sink: @Sendable (GreylistEvent) -> Void {
        { [self] event in count(event) }
    }

    /// Counts one event.
    ///
    /// - Parameter event: The event.
    public func count(_ event: GreylistEvent) {
        switch event {
        case .refused(_, _, let dryRun):
            if !dryRun { refused.increment() }
        case .banned(let entry, _):
            if case .rule = entry.reason { ruleBans.increment() } else { manualBans.increment() }
        case .failureRecorded(_, _, _, let outcome):
            failures[Self.name(of: outcome)]?.increment()
        case .unbanned:
            unbans.increment()
        case .expired:
            expired.increment()
        case .banEvicted:
            evictions.increment()
        case .storageFailed:
            storageFailures.increment()
        case .sharedStoreChanged(let available, _):
            sharedStore.record(available ? 1 : 0)
        default:
            break
        }
    }

    /// Sets the gauges from the greylist's statistics.
    ///
    /// - Parameter statistics: `Greylist/statistics()` now.
    public func record(_ statistics: GreylistStatistics) {
        activeBans.record(statistics.activeBans)
        trackedAddresses.record(statistics.trackedAddresses)
        trustedKeys.record(statistics.trustedKeys)
    }

    private static func name(of outcome: FailureOutcome) -> String {
        switch outcome {
        case .banned: return "banned"
        case .alreadyBanned: return "already-banned"
        case .counted: return "counted"
        case .noRuleMatched: return "no-rule"
        case .allowlisted: return "allowlisted"
        case .notClientFault: return "not-client-fault"
        case .sharedAddress: return "shared-address"
        }
    }
}
