import Greylist

/// The `server.kernelOffload` object: which bans are also put into an nftables set, so the
/// kernel refuses those sources' new connections before they reach `accept`.
struct KernelOffloadSettings: Equatable, Sendable {
    /// Off by default; needs `CAP_NET_ADMIN` and the `nft` tool.
    var enabled = false
    /// The nftables table (family `inet`) the server owns: created at start, deleted at a clean stop.
    var table = "greylist"
    /// Bans at least this long are offloaded.
    var minimumBan: Duration = .seconds(3_600)
    /// Repeat offenders (ban count at least this) are offloaded whatever the length; 0: off.
    var repeatOffenders = 2
    /// `reject` (a TCP reset: the client learns at once) or `drop` (silence: a bot waits for its timeout).
    var action = Action.reject
    /// How long changes are gathered into one `nft` transaction.
    var batchInterval: Duration = .milliseconds(100)

    /// What the rule does to a banned source's new connection.
    enum Action: String, Sendable {
        case reject
        case drop
    }

    init() {}

    /// Reads the object, reporting every bad field.
    init(reading reader: inout ConfigurationReader) {
        let defaults = KernelOffloadSettings()
        enabled = reader.bool("enabled", default: defaults.enabled)
        table = reader.string("table", default: defaults.table) ?? defaults.table
        if table.isEmpty || table.utf8.count > 32 || !table.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
            reader.report("table", reason: "expected 1 to 32 letters, digits, '_' or '-'")
            table = defaults.table
        }
        minimumBan = reader.duration("minimumBan", default: defaults.minimumBan)
        repeatOffenders = reader.integer("repeatOffenders", default: defaults.repeatOffenders, in: 0...8_191)
        let action = reader.string("action", default: defaults.action.rawValue) ?? defaults.action.rawValue
        if let known = Action(rawValue: action) {
            self.action = known
        } else {
            reader.report("action", reason: "expected \"reject\" or \"drop\"")
        }
        batchInterval = reader.duration("batchInterval", default: defaults.batchInterval)
    }

    /// Whether `ban` goes to the kernel: not soft (a trusted key is still served), not over an
    /// allowlisted address, long enough or a repeat offence, and with a second left at least.
    func qualifies(_ ban: BanEntry, allowlist: [IPNetwork], nowMilliseconds: Int64) -> Bool {
        guard !ban.isSoft, ban.expiresAt.timeIntervalSince1970 * 1_000 - Double(nowMilliseconds) >= 1_000 else { return false }
        guard !allowlist.contains(where: { $0.contains(ban.network) || ban.network.contains($0) }) else { return false }
        return ban.duration >= minimumBan || (repeatOffenders > 0 && ban.banCount >= repeatOffenders)
    }
}
