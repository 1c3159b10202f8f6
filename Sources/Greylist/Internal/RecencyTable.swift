/// A dictionary capped in size: adding past the cap evicts the least recently touched entry.
///
/// Recency is a queue of (key, stamp) pairs; a pair is stale when the key was touched again since,
/// and stale pairs are skipped on eviction and dropped when the queue grows past twice the table.
///
/// - Complexity: `update` O(1) amortized; eviction O(1) amortized per evicted entry.
struct RecencyTable<Key: Hashable, Value> {
    private(set) var entries: [Key: (value: Value, stamp: UInt64)] = [:]
    private var order: [(key: Key, stamp: UInt64)] = []
    private var head = 0
    private var nextStamp: UInt64 = 0
    var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { entries.count }

    subscript(key: Key) -> Value? {
        entries[key]?.value
    }

    /// Runs `body` on the value of `key`, creating it from `make` if needed, and marks it most
    /// recently touched. Returns what `body` returned and the keys evicted to make room.
    mutating func update<Result>(_ key: Key, make: () -> Value, _ body: (inout Value) -> Result) -> (result: Result, evicted: [Key]) {
        var evicted: [Key] = []
        if entries[key] == nil {
            evicted = evict(toFit: capacity - 1)
            entries[key] = (make(), 0)
        }
        nextStamp += 1
        let result = body(&entries[key]!.value)
        entries[key]!.stamp = nextStamp
        order.append((key, nextStamp))
        compactIfNeeded()
        return (result, evicted)
    }

    /// Changes the value of `key` in place without touching its recency; nothing if absent.
    mutating func modify(_ key: Key, _ body: (inout Value) -> Void) {
        guard entries[key] != nil else { return }
        body(&entries[key]!.value)
    }

    mutating func remove(_ key: Key) {
        entries[key] = nil
    }

    mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        entries = entries.filter { !shouldRemove($0.key, $0.value.value) }
    }

    /// Rewrites every value in place (used when rules change).
    mutating func forEachValue(_ body: (inout Value) -> Void) {
        for index in entries.indices {
            body(&entries.values[index].value)
        }
    }

    /// Evicts least recently touched keys until at most `limit` remain; returns them.
    mutating func evict(toFit limit: Int) -> [Key] {
        var evicted: [Key] = []
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
