import Dispatch
import Greylist

/// One log line per interval with refusals, over-capacity closes and evictions, only when
/// something happened: a flood costs one line a minute, not one per connection.
///
/// `@unchecked Sendable`: `timer` and `last` are touched only on `queue`.
final class RefusalSummary: @unchecked Sendable {
    private let greylist: Greylist
    private let log: Log
    private let overCapacity: @Sendable () -> Int
    private let openConnections: @Sendable () -> Int
    private let suppressedLines: @Sendable () -> Int
    private let queue = DispatchQueue(label: "greylist.demo.summary")
    private var timer: DispatchSourceTimer?
    private var last = GreylistStatistics()

    init(greylist: Greylist, log: Log, overCapacity: @escaping @Sendable () -> Int, openConnections: @escaping @Sendable () -> Int,
         suppressedLines: @escaping @Sendable () -> Int = { 0 }) {
        self.suppressedLines = suppressedLines
        self.greylist = greylist
        self.log = log
        self.overCapacity = overCapacity
        self.openConnections = openConnections
    }

    /// (Re)starts the periodic summary.
    func schedule(every interval: Duration) {
        queue.async { [self] in
            timer?.cancel()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            let milliseconds = Int(clamping: interval.wholeMilliseconds)
            timer.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
            timer.setEventHandler { [self] in summarize() }
            self.timer = timer
            timer.resume()
        }
    }

    func cancel() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
    }

    private func summarize() {
        let closedOverCapacity = overCapacity()
        let suppressed = suppressedLines()
        let open = openConnections()
        Task { [self] in
            let statistics = await greylist.statistics()
            queue.async { [self] in
                let previous = last
                last = statistics
                let refused = statistics.refused - previous.refused
                let bansEvicted = statistics.bansEvicted - previous.bansEvicted
                let countersEvicted = statistics.countersEvicted - previous.countersEvicted
                let wouldHaveRefused = statistics.wouldHaveRefused - previous.wouldHaveRefused
                guard refused + closedOverCapacity + bansEvicted + countersEvicted + wouldHaveRefused + suppressed > 0 else { return }
                log.info("summary: refused \(refused) connections, would have refused \(wouldHaveRefused) (dry run), "
                    + "closed \(closedOverCapacity) over the connection cap, evicted \(bansEvicted) bans and \(countersEvicted) counters; "
                    + "\(statistics.activeBans) bans active, \(open) connections open, \(statistics.refused) refused in all"
                    + (suppressed > 0 ? "; \(suppressed) failed-login lines not written (over 20 per 10 s)" : ""))
            }
        }
    }
}
