/// One ban or remembered ban in 40 bytes: the whole per-key state, so a million bans fit in
/// well under 64 MB including the table's free slots.
struct BanSlot {
    /// The masked address, high and low halves (two `UInt64`s keep the stride at 40, not 48).
    var keyHigh: UInt64
    var keyLow: UInt64
    /// Milliseconds since 1970; 0 marks an empty slot. In the past: the ban ended and the slot
    /// only remembers the key's escalation history.
    var expiresAt: Int64
    var bannedAt: Int64
    var refusedCount: UInt32
    /// Low 13 bits: the ban count; bit 15: the expiry has been reported; bit 14: a rule ban
    /// (trust overrides it, refusals extend it); bit 13: extended since last stored.
    var countAndFlags: UInt16
    /// Index into the actor's reason table.
    var reason: UInt16

    static let empty = BanSlot(keyHigh: 0, keyLow: 0, expiresAt: 0, bannedAt: 0, refusedCount: 0, countAndFlags: 0, reason: 0)

    init(keyHigh: UInt64, keyLow: UInt64, expiresAt: Int64, bannedAt: Int64, refusedCount: UInt32, countAndFlags: UInt16, reason: UInt16) {
        self.keyHigh = keyHigh
        self.keyLow = keyLow
        self.expiresAt = expiresAt
        self.bannedAt = bannedAt
        self.refusedCount = refusedCount
        self.countAndFlags = countAndFlags
        self.reason = reason
    }

    init(key: UInt128, expiresAt: Int64, bannedAt: Int64, banCount: Int, reason: UInt16, isRuleBan: Bool = false) {
        self.init(keyHigh: UInt64(truncatingIfNeeded: key >> 64), keyLow: UInt64(truncatingIfNeeded: key),
                  expiresAt: max(expiresAt, 1), bannedAt: bannedAt, refusedCount: 0,
                  countAndFlags: UInt16(clamping: min(max(banCount, 0), Self.countMask)) | (isRuleBan ? Self.ruleBanFlag : 0),
                  reason: reason)
    }

    private static let countMask = 0x1FFF
    private static let reportedFlag: UInt16 = 0x8000
    private static let ruleBanFlag: UInt16 = 0x4000
    private static let extendedFlag: UInt16 = 0x2000

    var key: UInt128 { UInt128(keyHigh) << 64 | UInt128(keyLow) }
    var isEmpty: Bool { expiresAt == 0 }
    var banCount: Int { Int(countAndFlags) & Self.countMask }

    var expiryReported: Bool {
        get { countAndFlags & Self.reportedFlag != 0 }
        set { countAndFlags = newValue ? countAndFlags | Self.reportedFlag : countAndFlags & ~Self.reportedFlag }
    }

    /// A ban a rule made (not an operator's): trust overrides it, refused connections extend it.
    var isRuleBan: Bool {
        countAndFlags & Self.ruleBanFlag != 0
    }

    /// Refused connections extended the expiry since the ban was last stored.
    var extendedSinceStored: Bool {
        get { countAndFlags & Self.extendedFlag != 0 }
        set { countAndFlags = newValue ? countAndFlags | Self.extendedFlag : countAndFlags & ~Self.extendedFlag }
    }
}

/// Bans of one address family and prefix length: an open-addressing hash table with linear
/// probing and backward-shift deletion, sized to stay between 70 % and 85 % full.
///
/// - Complexity: lookups and updates O(1) expected; growth and shrinking O(n), amortized O(1).
struct PrefixTable {
    let isIPv4: Bool
    let widePrefixLength: Int
    let mask: UInt128
    private(set) var slots: [BanSlot]
    private(set) var count = 0

    private static let maximumLoad = 0.85
    private static let targetLoad = 0.7

    init(isIPv4: Bool, widePrefixLength: Int, capacity: Int = 16) {
        self.isIPv4 = isIPv4
        self.widePrefixLength = widePrefixLength
        self.mask = IPNetwork.mask(widePrefixLength)
        self.slots = Array(repeating: .empty, count: max(capacity, 8))
    }

    var familyPrefixLength: Int {
        isIPv4 ? widePrefixLength - 96 : widePrefixLength
    }

    func matches(_ network: IPNetwork) -> Bool {
        isIPv4 == network.address.isIPv4 && widePrefixLength == network.widePrefixLength
    }

    func network(_ slot: BanSlot) -> IPNetwork {
        IPNetwork(unchecked: IPAddress(bits: slot.key), prefixLength: familyPrefixLength)
    }

    @inline(__always)
    private func home(_ high: UInt64, _ low: UInt64) -> Int {
        var hash = high &* 0x9E37_79B9_7F4A_7C15 ^ low &* 0xC2B2_AE3D_27D4_EB4F
        hash ^= hash >> 29
        hash &*= 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 32
        // Range reduction by multiplication: no power-of-two capacity needed.
        return Int(hash.multipliedFullWidth(by: UInt64(slots.count)).high)
    }

    /// The slot index holding `key`, if any.
    @inline(__always)
    func index(of key: UInt128) -> Int? {
        let high = UInt64(truncatingIfNeeded: key >> 64)
        let low = UInt64(truncatingIfNeeded: key)
        var index = home(high, low)
        while true {
            let slot = slots[index]
            if slot.isEmpty { return nil }
            if slot.keyLow == low && slot.keyHigh == high { return index }
            index += 1
            if index == slots.count { index = 0 }
        }
    }

    subscript(index: Int) -> BanSlot {
        get { slots[index] }
        set { slots[index] = newValue }
    }

    /// Inserts or replaces the slot for its key; returns the previous one.
    @discardableResult
    mutating func upsert(_ slot: BanSlot) -> BanSlot? {
        if let index = index(of: slot.key) {
            let previous = slots[index]
            slots[index] = slot
            return previous
        }
        if Double(count + 1) > Double(slots.count) * Self.maximumLoad {
            resize(to: Int(Double(count + 1) / Self.targetLoad) + 1)
        }
        place(slot)
        return nil
    }

    /// Puts a slot whose key is not in the table into the first free place of its probe run.
    private mutating func place(_ slot: BanSlot) {
        var index = home(slot.keyHigh, slot.keyLow)
        while !slots[index].isEmpty {
            index += 1
            if index == slots.count { index = 0 }
        }
        slots[index] = slot
        count += 1
    }

    /// The capacity to rebuild to before one more key is inserted, or `nil` when it fits.
    var capacityForOneMore: Int? {
        Double(count + 1) > Double(slots.count) * Self.maximumLoad ? Int(Double(count + 1) / Self.targetLoad) + 1 : nil
    }

    /// Whether the table is sparse enough to shrink, and to what capacity.
    var capacityWhenSparse: Int? {
        slots.count > 64 && Double(count) < Double(slots.count) * 0.2 ? max(Int(Double(count) / Self.targetLoad) + 1, 8) : nil
    }

    /// A table of `capacity` slots holding `slots` (occupied ones), built in one pass.
    init(isIPv4: Bool, widePrefixLength: Int, capacity: Int, holding occupied: [BanSlot]) {
        self.init(isIPv4: isIPv4, widePrefixLength: widePrefixLength, capacity: max(capacity, Int(Double(occupied.count) / Self.maximumLoad) + 1))
        for slot in occupied { place(slot) }
    }

    /// Removes the slot at `index`, shifting later members of its probe run back; a table left
    /// sparse shrinks unless `shrinking` is `false` (the gate shrinks its tables off the lock).
    ///
    /// Another slot may move into `index`: a scan that removes re-examines that index.
    mutating func remove(at index: Int, shrinking: Bool = true) {
        var hole = index
        var next = index
        while true {
            next += 1
            if next == slots.count { next = 0 }
            let candidate = slots[next]
            if candidate.isEmpty { break }
            let wanted = home(candidate.keyHigh, candidate.keyLow)
            // Move `candidate` into the hole unless its home lies cyclically in (hole, next].
            let staysPut = hole <= next ? (wanted > hole && wanted <= next) : (wanted > hole || wanted <= next)
            if !staysPut {
                slots[hole] = candidate
                hole = next
            }
        }
        slots[hole] = .empty
        count -= 1
        if shrinking, let capacity = capacityWhenSparse {
            resize(to: capacity)
        }
    }

    /// Visits every slot; `body` may change it, and returns `false` to remove it. Returns the removed slots.
    mutating func sweep(_ body: (inout BanSlot) -> Bool) -> [BanSlot] {
        var removed: [BanSlot] = []
        for index in slots.indices where !slots[index].isEmpty {
            if !body(&slots[index]) {
                removed.append(slots[index])
                slots[index].expiresAt = -1  // marked; cleared by the rebuild below
            }
        }
        if !removed.isEmpty {
            slots = slots.map { $0.expiresAt == -1 ? .empty : $0 }
            resize(to: max(Int(Double(count - removed.count) / Self.targetLoad) + 1, 8))
        }
        return removed
    }

    private mutating func resize(to capacity: Int) {
        let old = slots
        slots = Array(repeating: .empty, count: max(capacity, 8))
        count = 0
        for slot in old where !slot.isEmpty {
            place(slot)
        }
    }
}
