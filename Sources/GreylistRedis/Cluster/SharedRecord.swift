import Greylist

/// What one shared Redis value or channel message says about one key, and its wire form.
///
/// A value is `g2 <tag> <body>`, the tag an HMAC-SHA-256 under the cluster's ``ClusterKey`` over
/// `g2 <network> <body>` (64 hexadecimal digits), so a value forged without the key, or copied
/// under another key, is caught. Bodies: `b <bannedAt> <expiresAt> <banCount> <r|m> =<reason> <=user|->`
/// (a ban), `u <at>` (an unban: every ban inside the network lifted at `at`), `t <until>` (trust),
/// `d` (trust taken away), `a <until> =<account>` (an account trusted on the key), `l <until>
/// =<account>` (an account's guesses from the key used up), `f <at> =<rule> =<account>` (a
/// counted failure; messages only). Times
/// are milliseconds since 1970; text is percent-escaped (bytes up to space, `%`, DEL), so fields
/// never contain a space. A message is `<node id> <network> <value>`.
///
/// Decoding is total: anything else (another version, garbage, a wrong tag, a huge value)
/// comes back as `nil`, never a crash. Public so tools can read what a cluster stores.
@_spi(Internals) public enum SharedRecord: Hashable, Sendable {
    /// A ban placed (its count is also the key's escalation history).
    case ban(BanEntry)
    /// Every ban inside the network lifted at `at` (milliseconds since 1970).
    case unban(IPNetwork, at: Int64)
    /// The key trusted until `until` (milliseconds since 1970).
    case trust(IPNetwork, until: Int64)
    /// The key's trust taken away.
    case distrust(IPNetwork)
    /// A failure one node counted for a rule.
    case failure(SharedFailure)
    /// An account trusted on the key until `until` (milliseconds since 1970).
    case accountTrust(IPNetwork, account: String, until: Int64)
    /// An account's guesses from the key used up until `until` (milliseconds since 1970).
    case loginsBlocked(IPNetwork, account: String, until: Int64)

    /// The longest value decoded; longer ones are foreign.
    public static let maximumLength = 2_048
    /// The format version every value starts with.
    public static let version = "g2"

    /// The network the record is about.
    public var network: IPNetwork {
        switch self {
        case .ban(let entry): return entry.network
        case .unban(let network, _), .trust(let network, _), .distrust(let network): return network
        case .failure(let failure): return failure.key
        case .accountTrust(let network, _, _), .loginsBlocked(let network, _, _): return network
        }
    }

    /// The account an account record is about; `nil` for the others.
    public var account: String? {
        switch self {
        case .accountTrust(_, let account, _), .loginsBlocked(_, let account, _): return account
        default: return nil
        }
    }

    /// The record for a change this node made; `nil` for changes that stay local (evictions).
    init?(_ change: GreylistChange, now: Int64) {
        switch change {
        case .banned(let entry): self = .ban(entry)
        case .removed: return nil
        case .unbanned(let network): self = .unban(network, at: now)
        case .trusted(let network, let until): self = .trust(network, until: WallClock.milliseconds(until))
        case .distrusted(let network): self = .distrust(network)
        case .accountTrusted(let mark): self = .accountTrust(mark.network, account: mark.account, until: WallClock.milliseconds(mark.until))
        case .loginsBlocked(let mark): self = .loginsBlocked(mark.network, account: mark.account, until: WallClock.milliseconds(mark.until))
        case .nameMarked, .softTrustChanged: return nil
        }
    }

    /// The change a record tells the greylist (a failure is a notice of its own).
    var change: GreylistChange? {
        switch self {
        case .ban(let entry): return .banned(entry)
        case .unban(let network, _): return .unbanned(network)
        case .trust(let network, let until): return .trusted(network, until: WallClock.date(until))
        case .distrust(let network): return .distrusted(network)
        case .failure: return nil
        case .accountTrust(let network, let account, let until):
            return .accountTrusted(AccountMark(network: network, account: account, until: WallClock.date(until)))
        case .loginsBlocked(let network, let account, let until):
            return .loginsBlocked(AccountMark(network: network, account: account, until: WallClock.date(until)))
        }
    }

    // MARK: - Encoding

    /// The value stored under the record's key (and sent in messages).
    ///
    /// - Parameter key: The cluster's key, which tags the value.
    /// - Returns: The value's bytes.
    public func value(key: ClusterKey) -> [UInt8] {
        var body: [UInt8] = []
        switch self {
        case .ban(let entry):
            body += Array("b \(entry.bannedAtMilliseconds) \(entry.expiresAtMilliseconds) \(entry.banCount) ".utf8)
            switch entry.reason {
            case .rule(let name): body += Array("r ".utf8); Self.appendText(name, to: &body)
            case .manual(let reason): body += Array("m ".utf8); Self.appendText(reason, to: &body)
            }
            body.append(0x20)
            if let user = entry.user { Self.appendText(user, to: &body) } else { body.append(UInt8(ascii: "-")) }
        case .unban(_, let at):
            body += Array("u \(at)".utf8)
        case .trust(_, let until):
            body += Array("t \(until)".utf8)
        case .distrust:
            body.append(UInt8(ascii: "d"))
        case .failure(let failure):
            body += Array("f \(WallClock.milliseconds(failure.at)) ".utf8)
            Self.appendText(failure.rule, to: &body)
            body.append(0x20)
            Self.appendText(failure.account, to: &body)
        case .accountTrust(_, let account, let until), .loginsBlocked(_, let account, let until):
            if case .accountTrust = self { body += Array("a \(until) ".utf8) } else { body += Array("l \(until) ".utf8) }
            Self.appendText(account, to: &body)
        }
        return Array("\(Self.version) ".utf8) + key.tag(Self.signed(network: network, body: body)) + [0x20] + body
    }

    /// What a value's tag covers: the version, the network its key names, the body.
    private static func signed(network: IPNetwork, body: some Collection<UInt8>) -> [UInt8] {
        Array("\(version) \(network) ".utf8) + Array(body)
    }

    /// A channel message: `<node id> <network> <value>`.
    ///
    /// - Parameters:
    ///   - node: The sending node's id.
    ///   - key: The cluster's key.
    /// - Returns: The message's bytes.
    public func message(from node: String, key: ClusterKey) -> [UInt8] {
        Array("\(node) \(network) ".utf8) + value(key: key)
    }

    /// `=` then the text, percent-escaped.
    static func appendText(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "="))
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if byte <= 0x20 || byte == UInt8(ascii: "%") || byte == 0x7F {
                bytes += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            } else {
                bytes.append(byte)
            }
        }
    }

    // MARK: - Decoding

    /// Decodes the value stored under `network`'s key; `nil` when it is not one of ours.
    ///
    /// - Parameters:
    ///   - value: The value's bytes.
    ///   - network: The network the key names.
    ///   - key: The cluster's key: a value whose tag it did not make is foreign.
    /// - Returns: The record, or `nil` for foreign, forged or damaged data.
    public static func decode(value: some Collection<UInt8>, network: IPNetwork, key: ClusterKey) -> SharedRecord? {
        guard value.count <= maximumLength else { return nil }
        let fields = value.split(separator: 0x20, maxSplits: 12, omittingEmptySubsequences: false)
        guard fields.count >= 3, fields[0].elementsEqual(version.utf8), fields[1].count == 64 else { return nil }
        let bodyStart = fields[2].startIndex
        let body = Array(value[bodyStart...])
        guard SHA256.constantTimeEqual(key.tag(signed(network: network, body: body)), fields[1]) else { return nil }
        let parts = Array(fields[2...])
        func integer(_ index: Int) -> Int64? {
            guard index < parts.count, (1...20).contains(parts[index].count) else { return nil }
            return Int64(String(decoding: parts[index], as: UTF8.self))
        }
        func text(_ index: Int) -> String? {
            guard index < parts.count else { return nil }
            return unescape(parts[index])
        }
        guard let kind = parts.first, kind.count == 1 else { return nil }
        switch kind.first {
        case UInt8(ascii: "b"):
            guard parts.count == 7, let bannedAt = integer(1), let expiresAt = integer(2), let count = integer(3),
                  (1...1_000_000).contains(count), let reasonText = text(5) else { return nil }
            let reason: BanEntry.Reason
            switch parts[4].first {
            case UInt8(ascii: "r") where parts[4].count == 1: reason = .rule(reasonText)
            case UInt8(ascii: "m") where parts[4].count == 1: reason = .manual(reasonText)
            default: return nil
            }
            var user: String?
            if !parts[6].elementsEqual("-".utf8) {
                guard let decoded = text(6) else { return nil }
                user = decoded
            }
            return .ban(BanEntry(network: network, reason: reason, user: user, bannedAtMilliseconds: bannedAt,
                                 expiresAtMilliseconds: expiresAt, banCount: Int(count), refusedCount: 0))
        case UInt8(ascii: "u"):
            guard parts.count == 2, let at = integer(1) else { return nil }
            return .unban(network, at: at)
        case UInt8(ascii: "t"):
            guard parts.count == 2, let until = integer(1) else { return nil }
            return .trust(network, until: until)
        case UInt8(ascii: "d"):
            guard parts.count == 1 else { return nil }
            return .distrust(network)
        case UInt8(ascii: "f"):
            guard parts.count == 4, let at = integer(1), let rule = text(2), let account = text(3) else { return nil }
            return .failure(SharedFailure(key: network, rule: rule, account: account, at: WallClock.date(at)))
        case UInt8(ascii: "a"), UInt8(ascii: "l"):
            guard parts.count == 3, let until = integer(1), let account = text(2) else { return nil }
            return kind.first == UInt8(ascii: "a") ? .accountTrust(network, account: account, until: until)
                : .loginsBlocked(network, account: account, until: until)
        default:
            return nil
        }
    }

    /// `value` with its tag replaced by the one `key` makes for its body under `network`, so a
    /// fuzzer's mutations reach the body's parser instead of stopping at the tag. A door for the
    /// fuzzing harness only.
    @_spi(Fuzzing)
    public static func retagged(value: [UInt8], network: IPNetwork, key: ClusterKey) -> [UInt8] {
        let fields = value.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { return value }
        return Array(fields[0]) + [0x20] + key.tag(signed(network: network, body: fields[2])) + [0x20] + Array(fields[2])
    }

    /// Decodes a channel message: the sending node and the record; `nil` when foreign.
    ///
    /// - Parameters:
    ///   - message: The message's bytes.
    ///   - key: The cluster's key.
    /// - Returns: The sender's id and the record, or `nil` for foreign, forged or damaged data.
    public static func decode(message: [UInt8], key: ClusterKey) -> (node: String, record: SharedRecord)? {
        guard message.count <= maximumLength + 128 else { return nil }
        let fields = message.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, (1...64).contains(fields[0].count), (1...64).contains(fields[1].count),
              let network = try? IPNetwork(String(decoding: fields[1], as: UTF8.self)),
              network.description.utf8.elementsEqual(fields[1]),
              let record = decode(value: fields[2], network: network, key: key) else { return nil }
        return (String(decoding: fields[0], as: UTF8.self), record)
    }

    /// `=text` percent-escaped back to text; `nil` for anything else.
    static func unescape(_ field: some Collection<UInt8>) -> String? {
        guard field.first == UInt8(ascii: "="), field.count <= 1_024 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(field.count)
        var iterator = field.dropFirst().makeIterator()
        while let byte = iterator.next() {
            // Only the encoder's form: a byte it escapes may not appear raw (a value of raw
            // control bytes would decode to text whose own value is longer than any record).
            guard byte > 0x20, byte != 0x7F else { return nil }
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
