/// A copy of the greylist's persistent state in its compact form, taken for a snapshot: the
/// slot tables as they are, the reason strings their slots point to, and the recent usernames.
///
/// Taking it copies slots a bounded slice at a time (``AcceptGate/image(sliceSize:)``), so the
/// accept path never waits for a whole-table pass; encoding it happens off the actor.
struct StateImage: Sendable {
    /// One table's occupied slots.
    struct Table: Sendable {
        var isTrust: Bool
        var isIPv4: Bool
        var widePrefixLength: Int
        var slots: [BanSlot]
    }

    var tables: [Table] = []
    /// Indexed by a slot's `reason`.
    var reasons: [BanEntry.Reason] = []
    var users: [(IPNetwork, String)] = []
    /// The judgment's marks.
    var marks = StoredMarks()

    /// How many slots it holds.
    var slotCount: Int {
        tables.reduce(0) { $0 + $1.slots.count }
    }

    /// The image of a store's public snapshot (for the store API's `state` closure).
    init(_ snapshot: GreylistSnapshot) {
        self.init(RecoveredState(snapshot))
    }

    init(_ state: RecoveredState) {
        for (tables, isTrust) in [(state.bans, false), (state.trust, true)] {
            for table in tables {
                self.tables.append(Table(isTrust: isTrust, isIPv4: table.isIPv4, widePrefixLength: table.widePrefixLength,
                                         slots: table.slots.filter { !$0.isEmpty }))
            }
        }
        reasons = state.reasons.all
        users = state.users.all
        marks = state.marks
    }

    init(tables: [Table], reasons: [BanEntry.Reason], users: [(IPNetwork, String)], marks: StoredMarks = StoredMarks()) {
        self.tables = tables
        self.reasons = reasons
        self.users = users
        self.marks = marks
    }
}
