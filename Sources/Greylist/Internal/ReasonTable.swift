/// Ban reasons interned to a 2-byte index, so a slot does not carry a string. Rule names are
/// few; manual reasons are whatever operators type, so the table is capped: past 65,535
/// distinct reasons a new one is recorded as a placeholder (the journal keeps the real text).
struct ReasonTable {
    private var reasons: [BanEntry.Reason] = [.manual("(more than 65,535 distinct reasons)")]
    private var indices: [BanEntry.Reason: UInt16] = [:]

    mutating func index(_ reason: BanEntry.Reason) -> UInt16 {
        if let index = indices[reason] { return index }
        guard reasons.count <= Int(UInt16.max) else { return 0 }
        let index = UInt16(reasons.count)
        reasons.append(reason)
        indices[reason] = index
        return index
    }

    /// Every reason, by index.
    var all: [BanEntry.Reason] {
        reasons
    }

    subscript(index: UInt16) -> BanEntry.Reason {
        Int(index) < reasons.count ? reasons[Int(index)] : reasons[0]
    }

    func isRule(_ index: UInt16) -> Bool {
        if case .rule = self[index] { return true }
        return false
    }
}

/// The usernames behind the most recent rule bans, for listings: a bounded FIFO, so memory does
/// not grow with the ban table (events and the journal carry every username).
struct RecentUsers {
    private var users: [IPNetwork: String] = [:]
    private var order: [IPNetwork] = []
    private var head = 0
    let capacity: Int

    /// The capacity the greylist uses.
    static let standardCapacity = 16_384

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Every key with its username.
    var all: [(IPNetwork, String)] {
        users.map { ($0.key, $0.value) }
    }

    subscript(network: IPNetwork) -> String? {
        get { users[network] }
        set {
            guard let newValue else {
                users[network] = nil
                return
            }
            if users.updateValue(newValue, forKey: network) == nil {
                order.append(network)
                if users.count > capacity {
                    while head < order.count, users.count > capacity {
                        users[order[head]] = nil
                        head += 1
                    }
                }
                if head > capacity {
                    order.removeFirst(head)
                    head = 0
                }
            }
        }
    }
}
