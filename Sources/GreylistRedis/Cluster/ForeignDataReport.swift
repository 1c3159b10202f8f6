import Greylist

/// Counts foreign or damaged shared data and says so at most once a minute, naming the first
/// example: a Redis full of garbage costs one log line a minute, not one per value.
struct ForeignDataReport {
    private(set) var total = 0
    private var pending = 0
    private var example = ""
    private var lastReport: Int64 = .min

    mutating func note(_ what: String) {
        total += 1
        pending += 1
        if example.isEmpty { example = what }
    }

    /// The line to log now, if one is due.
    mutating func take(now: Int64) -> String? {
        guard pending > 0, lastReport == .min || now - lastReport >= 60_000 else { return nil }
        defer {
            pending = 0
            example = ""
            lastReport = now
        }
        return "skipped \(pending) foreign or damaged shared value(s), first: \(OperatorText.escaped(example))"
    }
}
