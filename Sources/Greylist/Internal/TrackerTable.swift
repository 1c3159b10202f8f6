/// Recent failures of one key that is not banned (escalation history lives in the ban table).
struct AddressTracker {
    /// Failure instants (ms) per rule name, oldest first, at most that rule's `maxFailures`.
    var failures: [String: [Int64]] = [:]
    /// Recency stamp for least-recently-seen eviction.
    fileprivate(set) var stamp: UInt64 = 0
}

/// Trackers keyed by ban key, capped in size: adding past the cap evicts the least recently seen.
///
/// Recency is a queue of (key, stamp) pairs; a pair is stale when the key was touched again since,
/// and stale pairs are skipped on eviction and dropped when the queue grows past twice the table.
struct TrackerTable {
    private(set) var entries: [IPNetwork: AddressTracker] = [:]
    private var order: [(key: IPNetwork, stamp: UInt64)] = []
    private var head = 0
    private var nextStamp: UInt64 = 0
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// Runs `body` on the tracker of `key`, creating it if needed, and marks it most recently seen.
    /// Returns what `body` returned and the keys evicted to make room.
    mutating func update<Result>(_ key: IPNetwork, _ body: (inout AddressTracker) -> Result) -> (result: Result, evicted: [IPNetwork]) {
        var evicted: [IPNetwork] = []
        if entries[key] == nil {
            evicted = evict(toFit: capacity - 1)
        }
        nextStamp += 1
        let result = body(&entries[key, default: AddressTracker()])
        entries[key]!.stamp = nextStamp
        order.append((key, nextStamp))
        compactIfNeeded()
        return (result, evicted)
    }

    mutating func remove(_ key: IPNetwork) {
        entries[key] = nil
    }

    mutating func removeAll(where shouldRemove: (IPNetwork, AddressTracker) -> Bool) {
        entries = entries.filter { !shouldRemove($0.key, $0.value) }
    }

    /// Rewrites every tracker in place (used when rules change).
    mutating func forEachTracker(_ body: (inout AddressTracker) -> Void) {
        for index in entries.indices {
            body(&entries.values[index])
        }
    }

    /// Evicts least recently seen keys until at most `limit` remain; returns them.
    mutating func evict(toFit limit: Int) -> [IPNetwork] {
        var evicted: [IPNetwork] = []
        while entries.count > max(limit, 0), head < order.count {
            let candidate = order[head]
            head += 1
            if entries[candidate.key]?.stamp == candidate.stamp {
                entries[candidate.key] = nil
                evicted.append(candidate.key)
            }
        }
        compactIfNeeded()
        return evicted
    }

    private mutating func compactIfNeeded() {
        guard order.count - head > 2 * entries.count + 64 || head > order.count / 2 + 64 else { return }
        order = order[head...].filter { entries[$0.key]?.stamp == $0.stamp }
        head = 0
    }
}
