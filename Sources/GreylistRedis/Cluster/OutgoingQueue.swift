import Greylist

/// Changes waiting to go to Redis, in order, with a bound: a later change of one key replaces
/// the earlier (only the latest state of a key matters to the other nodes), so the queue holds
/// at most one entry per key; past `capacity` keys the oldest are dropped and the whole state is
/// owed again. Failures go in a small bounded list of their own (they matter only for a window;
/// past the bound new ones are not shared).
/// Items leave only when Redis has acknowledged them (``acknowledge(_:)``), so a link that
/// fails mid-batch sends them again.
struct OutgoingQueue {
    /// One queued record and its place in the order.
    struct Entry {
        var sequence: UInt64
        var record: SharedRecord
    }

    private var latest: [String: Entry] = [:]
    private var order: [(sequence: UInt64, slot: String)] = []
    private var head = 0
    private var nextSequence: UInt64 = 0
    private(set) var failures: [SharedRecord] = []
    let capacity: Int
    let failureCapacity: Int
    /// Keys dropped for room since the last whole-state share.
    private(set) var stateOwed = false
    /// Keys changed since the whole state was last handed over: the state's older view of them
    /// must not overwrite what was queued since.
    private(set) var touchedSinceState: Set<String> = []
    private var trackingTouches = false

    init(capacity: Int, failureCapacity: Int = 4_096) {
        self.capacity = max(1, capacity)
        self.failureCapacity = failureCapacity
    }

    /// Records waiting (failures not included).
    var count: Int {
        latest.count
    }

    var isEmpty: Bool {
        latest.isEmpty && failures.isEmpty
    }

    /// The slot a record coalesces under: one for a network's ban or unban, one for its trust,
    /// one per account for an account's trust and for its spent guesses.
    static func slot(of record: SharedRecord) -> String {
        switch record {
        case .ban, .unban: return "b " + record.network.description
        case .trust, .distrust: return "t " + record.network.description
        case .failure: return "f " + record.network.description
        case .accountTrust(let network, let account, _): return "a \(network) \(account)"
        case .loginsBlocked(let network, let account, _): return "l \(network) \(account)"
        }
    }

    mutating func push(_ record: SharedRecord) {
        if case .failure = record {
            // Full (Redis away or slow): later failures are not shared; each stays counted on its node.
            if failures.count < failureCapacity { failures.append(record) }
            return
        }
        let slot = Self.slot(of: record)
        nextSequence += 1
        latest[slot] = Entry(sequence: nextSequence, record: record)
        order.append((nextSequence, slot))
        if trackingTouches { touchedSinceState.insert(slot) }
        while latest.count > capacity, let oldest = popOldest() {
            latest[oldest] = nil
            stateOwed = true
        }
        if head > 4_096 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// The unbans waiting to go out: each network and when it was lifted.
    func pendingUnbans() -> [(network: IPNetwork, at: Int64)] {
        latest.values.compactMap { entry in
            if case .unban(let network, let at) = entry.record { return (network, at) }
            return nil
        }
    }

    /// The oldest records, at most `limit`, still queued until acknowledged.
    func peek(_ limit: Int) -> [(slot: String, entry: Entry)] {
        var result: [(String, Entry)] = []
        var index = head
        while result.count < limit && index < order.count {
            let (sequence, slot) = order[index]
            if let entry = latest[slot], entry.sequence == sequence { result.append((slot, entry)) }
            index += 1
        }
        return result
    }

    /// Drops records Redis took, unless a newer change of the key arrived meanwhile.
    mutating func acknowledge(_ sent: [(slot: String, entry: Entry)]) {
        for (slot, entry) in sent where latest[slot]?.sequence == entry.sequence {
            latest[slot] = nil
        }
        while head < order.count, latest[order[head].slot]?.sequence != order[head].sequence {
            head += 1
        }
        if head == order.count {
            order.removeAll(keepingCapacity: order.count < 65_536)
            head = 0
        }
    }

    /// Whether keys were dropped for room since the last call (the whole state is owed again).
    mutating func takeStateOwed() -> Bool {
        defer { stateOwed = false }
        return stateOwed
    }

    /// Takes the failures waiting.
    mutating func takeFailures() -> [SharedRecord] {
        defer { failures.removeAll() }
        return failures
    }

    /// The whole state is being handed over: from now on remember which keys change.
    mutating func beginState() {
        stateOwed = false
        trackingTouches = true
        touchedSinceState = []
    }

    /// The handed-over state is all in Redis.
    mutating func endState() {
        trackingTouches = false
        touchedSinceState = []
    }

    private mutating func popOldest() -> String? {
        while head < order.count {
            let (sequence, slot) = order[head]
            head += 1
            if latest[slot]?.sequence == sequence { return slot }
        }
        return nil
    }
}
