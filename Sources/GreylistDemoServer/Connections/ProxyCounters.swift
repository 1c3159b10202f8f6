import Greylist
import Synchronization

/// PROXY protocol headers taken and refused, for `admin stats`, and the warning an operator
/// reads: at most one line per 10 s however many are refused (a flood of bad headers from
/// outside cannot flood the log), naming the latest reason, escaped.
final class ProxyCounters: Sendable {
    private struct Refusals {
        var total = 0
        var sinceLastLine = 0
        var lastLine: ContinuousClock.Instant?
        var latest = ""
    }

    private let accepted = Atomic<Int>(0)
    /// Headers being read now.
    private let pending = Atomic<Int>(0)
    private let refusals = Mutex(Refusals())
    private let log: Log

    init(log: Log) {
        self.log = log
    }

    /// Starts a header read unless `limit` are under way already.
    func beginReception(limit: Int) -> Bool {
        if pending.add(1, ordering: .relaxed).newValue <= limit { return true }
        pending.subtract(1, ordering: .relaxed)
        return false
    }

    /// A header read ended (handed over or closed).
    func endReception() {
        pending.subtract(1, ordering: .relaxed)
    }

    /// A header was read and acted on.
    func noteAccepted() {
        accepted.add(1, ordering: .relaxed)
    }

    /// A connection was closed for its header (malformed, too long, too slow, or from a peer
    /// that is not a trusted proxy).
    func noteRefused(_ error: ProxyProtocolError) {
        let line = refusals.withLock { state -> String? in
            state.total += 1
            state.sinceLastLine += 1
            state.latest = error.description
            let now = ContinuousClock.now
            if let last = state.lastLine, now - last < .seconds(10) { return nil }
            defer {
                state.lastLine = now
                state.sinceLastLine = 0
            }
            return "closed \(state.sinceLastLine) connection(s) for their PROXY header; latest: \(OperatorText.escaped(state.latest))"
        }
        if let line { log.warning(line) }
    }

    /// The counters for `admin stats`.
    var statistics: [String: Int] {
        ["proxyHeadersAccepted": accepted.load(ordering: .relaxed), "proxyHeadersRefused": refusals.withLock { $0.total }]
    }
}
