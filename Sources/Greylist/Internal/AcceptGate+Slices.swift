/// Whole-table work in bounded slices: each lock hold visits at most ``AcceptGate/sliceSize``
/// slots, so a connection arriving during a purge, an eviction, a snapshot or a table rebuild
/// waits for one slice (tens of microseconds), never for a pass over a million slots.
///
/// Only the actor changes the tables' shape, and it is busy running the scan, so the slices of
/// one scan see one table layout; the accept path may update slots (refused counts, knocking
/// extensions) between slices.
extension AcceptGate {
    /// Slots visited per lock hold by scans and rebuilds.
    static let sliceSize = 1_024

    /// Runs `body` under the lock on the ban tables (with the live-ban count) or the trust
    /// tables, in place (no copy of a table).
    private func withTables<Result>(_ trust: Bool, _ body: (inout [PrefixTable], inout Int) -> Result) -> Result {
        scanHolds.withLock { $0 += 1 }
        return state.withLockAfterWaiters { state in
            if trust {
                var unused = 0
                return body(&state.trustTables, &unused)
            }
            return body(&state.tables, &state.liveBans)
        }
    }

    /// Replaces every table at once (start-up, before the accept path runs).
    func install(bans: [PrefixTable], trust: [PrefixTable]) {
        state.withLock { state in
            state.tables = bans.sorted { $0.widePrefixLength > $1.widePrefixLength }
            state.trustTables = trust
            state.liveBans = state.tables.reduce(0) { total, table in total + table.slots.count { !$0.isEmpty && !$0.expiryReported } }
        }
    }

    /// Visits every ban slot, a slice per lock hold; `body` may change a slot and returns
    /// `false` to remove it (a slot may be visited twice when a removal wraps a probe run
    /// around, so `body` must be idempotent). `afterEachSlice` runs between slices, off the lock:
    /// where a caller moves what `body` noted into larger collections. Sparse tables are shrunk
    /// afterwards, off the lock.
    ///
    /// - Returns: The removed slots.
    @discardableResult
    func sweep(trust: Bool = false, _ body: (IPNetwork, inout BanSlot) -> Bool, afterEachSlice: () -> Void = {}) -> [(IPNetwork, BanSlot)] {
        var removed: [(IPNetwork, BanSlot)] = []
        // What a slice removed, kept small, and moved to `removed` off the lock (growing a large
        // array under the lock would copy it there).
        var sliceRemoved: [(IPNetwork, BanSlot)] = []
        let tableCount = withTables(trust) { tables, _ in tables.count }
        for table in 0..<tableCount {
            var index = 0
            var finished = false
            while !finished {
                defer {
                    removed += sliceRemoved
                    sliceRemoved.removeAll(keepingCapacity: true)
                    afterEachSlice()
                }
                withTables(trust) { tables, liveBans in
                    guard table < tables.count else { finished = true; return }
                    let end = min(index + Self.sliceSize, tables[table].slots.count)
                    let prefixLength = tables[table].familyPrefixLength
                    while index < end {
                        var slot = tables[table][index]
                        if slot.isEmpty {
                            index += 1
                            continue
                        }
                        let network = IPNetwork(unchecked: IPAddress(bits: slot.key), prefixLength: prefixLength)
                        let wasLive = !slot.expiryReported
                        if body(network, &slot) {
                            if wasLive && slot.expiryReported { liveBans -= 1 }
                            tables[table][index] = slot
                            index += 1
                        } else {
                            if wasLive { liveBans -= 1 }
                            sliceRemoved.append((network, tables[table][index]))
                            // A later slot of the probe run may move into `index`: look at it again.
                            tables[table].remove(at: index, shrinking: false)
                        }
                    }
                    finished = index >= tables[table].slots.count
                }
            }
        }
        shrinkSparseTables(trust: trust)
        withTables(trust) { tables, _ in tables.removeAll { $0.count == 0 } }
        return removed
    }

    /// Calls `body` with table `table` (read only) and the next range of at most `sliceSize`
    /// slot indices, one lock hold per call, until the table has been covered.
    private func forEachSlice(of table: Int, trust: Bool, _ body: (borrowing PrefixTable, Range<Int>) -> Void) {
        var start = 0
        var finished = false
        while !finished {
            withTables(trust) { tables, _ in
                guard table < tables.count else { finished = true; return }
                let end = min(start + Self.sliceSize, tables[table].slots.count)
                body(tables[table], start..<end)
                start = end
                finished = end >= tables[table].slots.count
            }
        }
    }

    /// Copies the occupied slots of table `table`, a slice per lock hold. The copy's memory is
    /// allocated and touched before the first hold: a page fault under the lock (a fresh huge
    /// page is zeroed on first touch) would stall the accept path.
    private func copySlots(_ table: Int, trust: Bool) -> [BanSlot] {
        let occupied = withTables(trust) { tables, _ in table < tables.count ? tables[table].count : 0 }
        var copy = [BanSlot](repeating: .empty, count: occupied)
        var filled = 0
        forEachSlice(of: table, trust: trust) { prefix, range in
            prefix.slots.withUnsafeBufferPointer { buffer in
                for slot in buffer[range] where !slot.isEmpty && filled < occupied {
                    copy[filled] = slot
                    filled += 1
                }
            }
        }
        copy.removeLast(occupied - filled)
        return copy
    }

    /// Rebuilds table `table` at `capacity`: its slots are copied a slice at a time and placed
    /// into the new table off the lock, which then replaces the old one in one short hold.
    /// A refused count or a knocking extension the accept path makes during the copy may be
    /// lost (the next refusal extends the ban again).
    func rebuild(_ table: Int, trust: Bool, capacity: Int) {
        guard let shape = withTables(trust, { tables, _ in
            table < tables.count ? (tables[table].isIPv4, tables[table].widePrefixLength) : nil
        }) else { return }
        var rebuilt = PrefixTable(isIPv4: shape.0, widePrefixLength: shape.1, capacity: capacity, holding: copySlots(table, trust: trust))
        // Swapped, not assigned: the gate must hold the only reference to the new slots, or
        // the accept path's next write to a slot would copy the whole table under the lock.
        // `rebuilt` leaves with the old table, freed after the lock is released.
        withTables(trust) { tables, _ in
            guard table < tables.count, tables[table].count == rebuilt.count else { return }
            swap(&tables[table], &rebuilt)
        }
        withExtendedLifetime(rebuilt) {}
    }

    /// Before `key` is inserted: rebuilds its table larger, off the lock, when one more key
    /// would overfill it (the table is created first if needed).
    func growIfFull(for key: IPNetwork, trust: Bool) {
        let growth = state.withLock { state -> (table: Int, capacity: Int)? in
            let table = trust ? state.trustTableIndex(for: key) : state.tableIndex(for: key)
            let prefix = trust ? state.trustTables[table] : state.tables[table]
            guard let capacity = prefix.capacityForOneMore, prefix.index(of: key.address.bits) == nil else { return nil }
            return (table, capacity)
        }
        if let growth { rebuild(growth.table, trust: trust, capacity: growth.capacity) }
    }

    /// Shrinks, off the lock, every table that fell below a fifth full.
    func shrinkSparseTables(trust: Bool) {
        let sparse = withTables(trust) { tables, _ in
            tables.indices.compactMap { index in tables[index].capacityWhenSparse.map { (index, $0) } }
        }
        for (table, capacity) in sparse { rebuild(table, trust: trust, capacity: capacity) }
    }

    /// Every ban slot with its network, copied a slice at a time.
    func all() -> [(IPNetwork, BanSlot)] {
        image(trust: false).flatMap { table in
            let prefix = PrefixTable(isIPv4: table.isIPv4, widePrefixLength: table.widePrefixLength, capacity: 8)
            return table.slots.map { (prefix.network($0), $0) }
        }
    }

    /// Every table's occupied slots (or only the ban or trust tables), copied a slice at a time.
    func image(trust only: Bool? = nil) -> [StateImage.Table] {
        var result: [StateImage.Table] = []
        for trust in [false, true] where only == nil || only == trust {
            let shapes = withTables(trust) { tables, _ in tables.map { ($0.isIPv4, $0.widePrefixLength) } }
            for (table, shape) in shapes.enumerated() {
                result.append(StateImage.Table(isTrust: trust, isIPv4: shape.0, widePrefixLength: shape.1, slots: copySlots(table, trust: trust)))
            }
        }
        return result
    }

    /// The `limit` ban slots that expire soonest among those `predicate` accepts (remembered
    /// ones, already expired, first): one pass, a slice per lock hold, through a bounded heap.
    ///
    /// - Complexity: O(n log k) time, O(k) memory.
    func soonestExpiring(_ limit: Int, where predicate: (IPNetwork, BanSlot) -> Bool) -> [(IPNetwork, BanSlot)] {
        var heap = MinimumHeap<LatestFirst>()
        guard limit > 0 else { return [] }
        let tableCount = state.withLock { $0.tables.count }
        for table in 0..<tableCount {
            forEachSlice(of: table, trust: false) { prefix, range in
                for index in range {
                    let slot = prefix[index]
                    guard !slot.isEmpty, heap.count < limit || slot.expiresAt < heap.minimum!.slot.expiresAt else { continue }
                    let network = prefix.network(slot)
                    guard predicate(network, slot) else { continue }
                    if heap.count == limit { heap.removeMinimum() }
                    heap.insert(LatestFirst(slot: slot, network: network))
                }
            }
        }
        return heap.elements.sorted { $0.slot.expiresAt < $1.slot.expiresAt }.map { ($0.network, $0.slot) }
    }

    /// Ban slots not yet reported expired by a purge: bans in force at the last purge and those
    /// placed since (no walk).
    var liveBans: Int {
        state.withLock { $0.liveBans }
    }
}

/// Orders the latest expiry first, so a `MinimumHeap` of it keeps the k soonest on its way.
private struct LatestFirst: Comparable {
    var slot: BanSlot
    var network: IPNetwork

    static func < (lhs: LatestFirst, rhs: LatestFirst) -> Bool {
        lhs.slot.expiresAt > rhs.slot.expiresAt
    }

    static func == (lhs: LatestFirst, rhs: LatestFirst) -> Bool {
        lhs.slot.expiresAt == rhs.slot.expiresAt && lhs.network == rhs.network
    }
}
